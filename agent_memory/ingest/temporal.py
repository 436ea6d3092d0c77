"""Fact resolution in valid time: duplicates, contradictions and endings (pure, no I/O).

Given a new fact and the subject's current facts on the same relation, decide what changes.
Nothing is ever deleted: a contradicted fact is closed at the new fact's ``valid_at``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..extraction.relations import is_single_valued
from ..models import Fact

__all__ = ["Resolution", "resolve_fact"]


@dataclass
class Resolution:
    """What to write: the new fact (or None), existing facts to update, and which fact is a duplicate."""

    new: Fact | None
    updated: list[Fact] = field(default_factory=list)
    duplicate_of: Fact | None = None


def _close(old: Fact, at: datetime | None, episode: str, now: datetime) -> Fact:
    return old.model_copy(update={"invalid_at": at or now, "expired_at": now, "invalidated_by": episode})


def resolve_fact(
    new: Fact,
    same_relation: list[Fact],
    opposite: list[Fact],
    *,
    episode_uuid: str,
    now: datetime,
    ends: bool = False,
) -> Resolution:
    """Resolve ``new`` against current facts of the same subject.

    Args:
        new: the candidate, with ``valid_at`` set (the statement's time when the text gave none).
        same_relation: current facts with the same subject and relation.
        opposite: current facts with the same subject, the opposite relation (LIKES/DISLIKES).
        episode_uuid: the episode stating ``new``; recorded as provenance or as what closed a fact.
        now: transaction time.
        ends: the statement says the relation ended ("I no longer work at Acme").
    """
    if ends:
        targets = [f for f in same_relation if f.target_uuid == new.target_uuid]
        if not targets and is_single_valued(new.relation) and new.target_name is None:
            targets = list(same_relation)
        if targets:
            return Resolution(None, [_close(f, new.invalid_at or new.valid_at, episode_uuid, now) for f in targets])
        closed = new.model_copy(update={"invalid_at": new.invalid_at or new.valid_at, "valid_at": None,
                                        "invalidated_by": episode_uuid})
        return Resolution(closed)

    for old in same_relation:
        if old.target_uuid == new.target_uuid:
            merged = old.model_copy(update={
                "episodes": [*old.episodes, *[e for e in new.episodes if e not in old.episodes]],
                "valid_at": min((t for t in (old.valid_at, new.valid_at) if t), default=None),
            })
            return Resolution(None, [merged], duplicate_of=old)

    updated: list[Fact] = [
        _close(f, new.valid_at, episode_uuid, now) for f in opposite if f.target_uuid == new.target_uuid
    ]
    if is_single_valued(new.relation):
        for old in same_relation:
            if new.valid_at and old.valid_at and old.valid_at > new.valid_at:
                # The graph already knows a later value: the new one was true only until then.
                new = new.model_copy(update={"invalid_at": old.valid_at, "invalidated_by": old.episodes[-1]
                                             if old.episodes else None, "expired_at": None})
            else:
                updated.append(_close(old, new.valid_at, episode_uuid, now))
    return Resolution(new, updated)
