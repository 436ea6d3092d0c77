"""Observations derived without a model from counts over the graph (the summary: ``summary.py``)."""

from __future__ import annotations

from collections.abc import Iterable

from ..models import Observation, User
from ..storage.base import GraphStore
from .summary import answer_questions, summarize_user, update_summary

__all__ = ["answer_questions", "update_observations", "update_summary", "summarize_user"]

def update_observations(store: GraphStore, user: User, entity_uuids: Iterable[str]) -> list[Observation]:
    """Refresh 'recurring entity' observations for entities this batch touched (seen in 2+ sessions).

    Saving an observation queues its vector; the indexer writes it after this run.
    """
    touched = set(entity_uuids)
    user_entity = user.entity_uuid
    # only the touched entities' mentions are read: the whole graph's, every batch, cost ~100 ms at 10k
    touched.discard(user_entity or "")
    rows = store.mention_stats(user.user_id, min_threads=2, limit=len(touched), entity_uuids=sorted(touched))
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
