"""After an episode is forgotten, drop what was derived from its facts: entity summaries and the user summary.

``store.delete_episode`` removes the facts only that episode stated; an entity's summary (its
first fact's sentence, also in its vector and full text) and the user's summary paragraph may
still repeat them. This rewrites those from what remains, so a forgotten fact is not recalled.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..models import Fact, User
from ..storage.base import GraphStore
from .observe import update_summary

__all__ = ["tidy_after_forget"]


def tidy_after_forget(store: GraphStore, user: User, deleted: Sequence[Fact]) -> bool:
    """Rewrite the summaries that quoted ``deleted`` facts; True if an entity changed (its vector is owed)."""
    if not deleted:
        return False
    texts = {f.fact[:200] for f in deleted}
    endpoints = list(dict.fromkeys(u for f in deleted for u in (f.source_uuid, f.target_uuid)))
    changed = False
    for ent in store.get_entities(user.user_id, endpoints):
        if ent.attributes.get("is_user") or ent.summary not in texts:
            continue
        remaining = [f for f in store.facts_touching(user.user_id, [ent.uuid], limit=20) if f.is_current]
        store.save_entity(ent.model_copy(update={"summary": remaining[0].fact[:200] if remaining else ""}))
        changed = True  # save_entity queues the entity's vector again
    update_summary(store, user)
    return changed
