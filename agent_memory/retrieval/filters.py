"""Filters of ``graph.search``: what a caller may narrow results by, applied after fusion."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from ..models import Episode, Fact
from ..storage.base import GraphStore

__all__ = ["SearchFilters", "episode_ok", "fact_ok"]


class SearchFilters(BaseModel):
    """Narrow ``graph.search`` results. Every field is optional."""

    model_config = ConfigDict(extra="forbid")

    valid_only: bool = False
    as_of: datetime | None = None
    relations: list[str] | None = None
    entity_types: list[str] | None = None
    thread_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def fact_ok(f: Fact, flt: SearchFilters, store: GraphStore) -> bool:
    if flt.valid_only and f.invalid_at is not None:
        return False
    if flt.as_of is not None and ((f.valid_at and f.valid_at > flt.as_of)
                                  or (f.invalid_at and f.invalid_at <= flt.as_of)):
        return False
    if flt.relations and f.relation not in flt.relations:
        return False
    if flt.since and (f.valid_at is None or f.valid_at < flt.since):
        return False
    if flt.until and (f.valid_at is None or f.valid_at >= flt.until):
        return False
    if flt.thread_id is not None:
        eps = store.get_episodes(f.user_id, f.episodes)
        if not any(e.thread_id == flt.thread_id for e in eps):
            return False
    return True


def episode_ok(ep: Episode, flt: SearchFilters) -> bool:
    if flt.thread_id is not None and ep.thread_id != flt.thread_id:
        return False
    if flt.since and ep.reference_time < flt.since:
        return False
    if flt.until and ep.reference_time >= flt.until:
        return False
    return not (flt.as_of and ep.reference_time > flt.as_of)

