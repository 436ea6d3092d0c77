"""After an episode is forgotten, drop what was derived from its facts: entity summaries and the user summary.

``store.delete_episode`` removes the facts only that episode stated; an entity's summary (its
first fact's sentence, also in its vector and full text) and the user's summary paragraph may
still repeat them. This rewrites those from what remains, so a forgotten fact is not recalled.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..embedding.base import Embedder
from ..models import Fact, User
from ..storage.sqlite import SQLiteStore
from ..storage.vectors import VectorIndex
from .observe import update_summary

__all__ = ["tidy_after_forget"]


def tidy_after_forget(store: SQLiteStore, index: VectorIndex, embedder: Embedder, user: User,
                      deleted: Sequence[Fact]) -> None:
    """Rewrite the summaries that quoted ``deleted`` facts (from the remaining current facts)."""
    if not deleted:
        return
    texts = {f.fact[:200] for f in deleted}
    endpoints = list(dict.fromkeys(u for f in deleted for u in (f.source_uuid, f.target_uuid)))
    changed = []
    for ent in store.get_entities(endpoints):
        if ent.attributes.get("is_user") or ent.summary not in texts:
            continue
        remaining = [f for f in store.facts_touching(user.user_id, [ent.uuid], limit=20) if f.is_current]
        ent.summary = remaining[0].fact[:200] if remaining else ""
        store.save_entity(ent)
        changed.append(ent)
    if changed:
        from .pipeline import entity_text

        index.upsert(user.user_id, "entity", [e.uuid for e in changed],
                     embedder.embed_batch([entity_text(e) for e in changed]))
    update_summary(store, user)
