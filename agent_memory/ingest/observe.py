"""Observations and the user summary, derived without a model from counts over the graph."""

from __future__ import annotations

from collections.abc import Iterable

from ..extraction.relations import SINGLE_VALUED
from ..models import Observation, User
from ..storage.base import GraphStore

__all__ = ["update_observations", "update_summary", "summarize_user"]

# Relations worth a place in the one-paragraph summary, most telling first.
_SUMMARY_ORDER = ["LIVES_IN", "WORKS_AT", "JOB_TITLE", "HAS_PLAN", "ACCOUNT_STATUS", "RELATIONSHIP_STATUS",
                  "MARRIED_TO", "STUDIES_AT", "PREFERS_CONTACT"]


def update_observations(store: GraphStore, user: User, entity_uuids: Iterable[str]) -> list[Observation]:
    """Refresh 'recurring entity' observations for entities this batch touched (seen in 2+ sessions).

    Saving an observation queues its vector; the indexer writes it after this run.
    """
    touched = set(entity_uuids)
    if not touched:
        return []
    user_entity = user.entity_uuid
    rows = [r for r in store.mention_stats(user.user_id, min_threads=2, limit=500)
            if r.entity_uuid in touched and r.entity_uuid != user_entity]
    if not rows:
        return []
    entities = {e.uuid: e for e in store.get_entities(user.user_id, [r.entity_uuid for r in rows])}
    saved = []
    for r in rows:
        ent = entities.get(r.entity_uuid)
        if ent is None:
            continue
        first, last = r.first_seen, r.last_seen
        # the text says what the pattern is; its counts and dates are fields (rendered from them), so the
        # text, and its vector, change when the meaning does, not with every mention
        text = f"{user.display_name} keeps coming back to {ent.name} ({ent.type})"
        saved.append(store.save_observation(Observation(
            user_id=user.user_id, key=f"entity:{ent.uuid}", text=text, evidence=[ent.uuid],
            first_seen=first, last_seen=last, count=r.mentions, sessions=list(r.sessions))))
    return saved


def summarize_user(store: GraphStore, user: User, max_facts: int = 8) -> str:
    """A short paragraph: who the user is and the strongest current facts about them."""
    parts = [user.display_name]
    if user.email:
        parts[0] += f" ({user.email})"
    facts = []
    if user.entity_uuid:
        current = [f for f in store.facts_touching(user.user_id, [user.entity_uuid], limit=200)
                   if f.invalid_at is None and f.source_uuid == user.entity_uuid]
        rank = {r: i for i, r in enumerate(_SUMMARY_ORDER)}
        current.sort(key=lambda f: (rank.get(f.relation, len(rank) + (0 if f.relation in SINGLE_VALUED else 1)),
                                    -(f.valid_at.timestamp() if f.valid_at else 0)))
        seen: set[str] = set()
        for f in current:
            if f.relation in SINGLE_VALUED and f.relation in seen:
                continue
            seen.add(f.relation)
            facts.append(f.fact.rstrip("."))
            if len(facts) >= max_facts:
                break
    text = parts[0] + "."
    if facts:
        text += " " + ". ".join(facts) + "."
    return text


def update_summary(store: GraphStore, user: User) -> str:
    """Recompute and store the user's summary."""
    fresh = store.get_user(user.user_id) or user
    summary = summarize_user(store, fresh)
    if summary != fresh.summary:
        store.update_user(fresh.model_copy(update={"summary": summary}))
    return summary
