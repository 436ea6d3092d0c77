"""The WHERE clause of ``list_facts``, built once for every SQL backend.

SQLite and PostgreSQL filter facts the same way and differ only in the parameter placeholder
(``?`` / ``%s``) and in how a timestamp is passed (SQLite stores sortable text); both call
:func:`fact_filters` with their own, so a filter cannot drift between backends.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

__all__ = ["fact_filters"]


def fact_filters(
    user_id: str, *, mark: str, ts: Callable[[datetime], object] = lambda t: t, thread_id: str | None = None,
    relation: str | None = None, current_only: bool = False, as_of: datetime | None = None,
    since: datetime | None = None, until: datetime | None = None,
) -> tuple[str, list[object]]:
    """``(where, params)`` over the facts table aliased ``f``: the user's facts, stated in the thread,
    of the relation, not invalidated, true at ``as_of`` (valid time), valid from ``since`` / before ``until``."""
    where: list[str] = [f"f.user_id={mark}"]
    params: list[object] = [user_id]
    if thread_id is not None:
        where.append("EXISTS (SELECT 1 FROM fact_episodes fe JOIN episodes e ON e.uuid=fe.episode_uuid"
                     f" AND e.user_id=f.user_id WHERE fe.fact_uuid=f.uuid AND e.thread_id={mark})")
        params.append(thread_id)
    if relation is not None:
        where.append(f"f.relation={mark}")
        params.append(relation)
    if current_only:
        where.append("f.invalid_at IS NULL AND f.expired_at IS NULL")
    if as_of is not None:
        where.append(f"(f.valid_at IS NULL OR f.valid_at<={mark}) AND (f.invalid_at IS NULL OR f.invalid_at>{mark})")
        params += [ts(as_of), ts(as_of)]
    if since is not None:
        where.append(f"f.valid_at>={mark}")
        params.append(ts(since))
    if until is not None:
        where.append(f"f.valid_at<{mark}")
        params.append(ts(until))
    return " AND ".join(where), params
