"""Writing one batch's extractions into the graph: entities resolved (by name, alias, or a near vector),
candidate facts drafted, judged by the model when there is one, and committed under the temporal rules.

Ids are deterministic (uuid5 of the user and name, or of the episode and position), so a batch retried
after a crash rewrites the same records. The ``Ingestor`` calls these inside its transactions.
"""

from __future__ import annotations

import logging
import uuid as _uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import LLMResponseError, ProviderError
from ..extraction.base import ExtractedEntity, Extraction
from ..extraction.relations import is_single_valued, normalize_relation, opposite_relation
from ..models import Entity, Episode, Fact, User
from ..storage.base import GraphStore
from ..text import normalize_name
from .temporal import resolve_fact

__all__ = ["Batch", "Draft", "GraphWriter", "Judge", "entity_id", "user_entity"]

log = logging.getLogger(__name__)
Judge = Callable[..., Sequence[Any]]  # (new, existing, *, episodes) -> judgements with key/duplicate_of/contradicts
_NS = _uuid.UUID("6f1c9e2a-4b7d-4c1e-9a55-2d8f0e3b7a10")


def entity_id(user_id: str, name: str) -> str:
    """Deterministic id of the entity a user's graph holds under this name."""
    return str(_uuid.uuid5(_NS, f"entity:{user_id}:{normalize_name(name)}"))


def user_entity(user: User) -> Entity:
    """The entity standing for the graph's owner: "I" from the user resolves to it."""
    aliases = [a for a in {user.first_name, user.user_id, user.email} if a and a != user.display_name]
    return Entity(uuid=entity_id(user.user_id, f"user:{user.user_id}"), user_id=user.user_id,
                  name=user.display_name, type="Person", aliases=sorted(aliases),
                  summary="the user", attributes={"is_user": True})


@dataclass
class Draft:
    """A candidate fact of one episode, with its resolved endpoints."""

    fact: Fact
    ends: bool
    endpoints: list[Entity]
    occurrence: bool = False


def _display_name(name: str) -> str:
    """A name as shown: trimmed, without sentence punctuation trailing it ("Acme Corp." -> "Acme Corp")."""
    return name.strip().rstrip(".,;:!?") or name.strip()


def _stable_order(fact: Fact) -> tuple[Any, ...]:
    """Newest first, then by wording: the same graph gives the same prompt whatever the row order."""
    return (fact.valid_at is None, -(fact.valid_at.timestamp() if fact.valid_at else 0.0), fact.relation,
            fact.target_name or "", fact.fact, fact.uuid)


@dataclass
class Batch:
    """Records a batch changed, to embed and index at its end."""

    facts: dict[str, Fact] = field(default_factory=dict)
    entities: dict[str, Entity] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    nearest_entity: dict[str, tuple[str, float]] = field(default_factory=dict)  # unknown name -> best (id, cos)
    vectors: list[tuple[list[str], Future[np.ndarray]]] = field(default_factory=list)  # episode ids, their vectors


class GraphWriter:
    """Resolves and writes a batch's entities and facts for one user (the caller holds the transaction)."""

    def __init__(self, store: GraphStore, *, merge_threshold: float, judge: Judge | None) -> None:
        self.store, self.merge_threshold, self.judge = store, merge_threshold, judge

    def _resolve_entity(self, user: User, ent: ExtractedEntity, batch: Batch) -> Entity:
        names = self.store.entities_by_names(user.user_id, [ent.name, *ent.aliases])
        candidates = [e for found in names.values() for e in found]
        if candidates:
            same_type = [e for e in candidates if e.type == ent.type]
            return (same_type or candidates)[0]
        new = Entity(uuid=entity_id(user.user_id, ent.name), user_id=user.user_id, name=_display_name(ent.name),
                     type=ent.type, aliases=[a for a in ent.aliases if a != ent.name], summary=ent.summary,
                     attributes=ent.attributes)
        nearest = batch.nearest_entity.get(normalize_name(new.name))
        if nearest is not None and nearest[1] >= self.merge_threshold:
            match = self.store.get_entities(user.user_id, [nearest[0]])
            if match and match[0].type == new.type:
                merged = match[0].model_copy(update={"aliases": sorted({*match[0].aliases, new.name})})
                self.store.save_entity(merged)
                batch.entities[merged.uuid] = merged
                return merged
        if new.type == "Person" and " " in new.name:
            new.aliases = sorted({*new.aliases, new.name.split()[0]})
        self.store.save_entity(new)
        batch.entities[new.uuid] = new
        return new

    def draft(self, user: User, ep: Episode, ex: Extraction, batch: Batch) -> list[Draft]:
        """Resolve the episode's entities (writing new ones and mentions) and build its candidate facts."""
        by_name: dict[str, Entity] = {}
        for ent in ex.entities:
            by_name[normalize_name(ent.name)] = self._resolve_entity(user, ent, batch)
        drafts = []
        for i, xf in enumerate(ex.facts):
            ends = []
            for name, etype in ((xf.source, xf.source_type), (xf.target, xf.target_type)):
                key = normalize_name(name)
                if key not in by_name:
                    by_name[key] = self._resolve_entity(user, ExtractedEntity(name=name, type=etype), batch)
                ends.append(by_name[key])
            fact = Fact(
                uuid=str(_uuid.uuid5(_NS, f"fact:{ep.uuid}:{i}")), user_id=user.user_id,
                source_uuid=ends[0].uuid, target_uuid=ends[1].uuid, source_name=ends[0].name,
                target_name=ends[1].name, relation=normalize_relation(xf.relation, synonyms=not xf.occurrence),
                fact=xf.fact.strip(),
                valid_at=xf.valid_at or (None if xf.ends else ep.reference_time),
                invalid_at=xf.invalid_at or (ep.reference_time if xf.ends else None),
                episodes=[ep.uuid], attributes=xf.attributes,
            )
            drafts.append(Draft(fact, xf.ends, ends, xf.occurrence))
        pairs = [(e.uuid, ep.uuid) for e in {e.uuid: e for e in by_name.values()}.values()]
        self.store.add_mentions(user.user_id, pairs)
        batch.touched.update(e for e, _ in pairs)
        return drafts

    def judge_batch(self, user: User, drafted: list[tuple[Episode, list[Draft]]]) -> dict[str, Any]:
        """One model call for the batch: duplicates and contradictions among facts sharing an endpoint.

        A candidate is compared with the user's current facts and with the facts of the batch's
        earlier episodes (a debounced batch often holds several messages saying the same thing).
        """
        from .judge import CandidateFact, ExistingFact

        new, existing, episodes = [], {}, []
        earlier: list[Fact] = []  # facts drafted from the batch's earlier episodes
        for ep, drafts in drafted:
            for d in drafts:
                if d.ends or d.occurrence or is_single_valued(d.fact.relation):
                    continue  # rules settle these without a call
                ends = {d.fact.source_uuid, d.fact.target_uuid}
                stored = self.store.facts_touching(user.user_id, sorted(ends), limit=20)
                near = sorted((f for f in stored if f.is_current), key=_stable_order)
                near += [f for f in earlier if ends & {f.source_uuid, f.target_uuid}]
                if not near:
                    continue
                new.append(CandidateFact(key=d.fact.uuid, source=d.fact.source_name or "", relation=d.fact.relation,
                                         target=d.fact.target_name or "", fact=d.fact.fact, valid_at=d.fact.valid_at,
                                         among=[f.uuid for f in near]))
                existing.update({f.uuid: ExistingFact(uuid=f.uuid, source=f.source_name or "", relation=f.relation,
                                                      target=f.target_name or "", fact=f.fact, valid_at=f.valid_at)
                                 for f in near})
                episodes.append(ep.uuid)
            earlier += [d.fact for d in drafts if not (d.ends or d.occurrence)]
        if not new:
            return {}
        try:
            verdicts = self.judge(new, list(existing.values()), episodes=episodes)  # type: ignore[misc]
        except (ProviderError, LLMResponseError) as exc:  # the rules still apply; nothing is dropped
            log.warning("resolution call failed for %s; applying the temporal rules only: %s", user.user_id, exc)
            return {}
        out = {j.key: j for j in verdicts}
        for j in out.values():  # a duplicate of an earlier draft that is itself a duplicate: merge into the first
            seen = {j.key}
            while j.duplicate_of in out and j.duplicate_of not in seen and out[j.duplicate_of].duplicate_of:
                seen.add(j.duplicate_of)
                j.duplicate_of = out[j.duplicate_of].duplicate_of
        return out

    def commit(self, user: User, ep: Episode, draft: Draft, batch: Batch, now: Any, verdict: Any) -> None:
        """Write one candidate fact: the model's verdict first (if any), then the temporal rules."""
        fact = draft.fact.model_copy(update={"created_at": now})
        if draft.occurrence:  # each time an event happens is its own fact
            self.store.save_fact(fact)
            batch.facts[fact.uuid] = fact
            return
        if verdict is not None and verdict.duplicate_of:
            found = self.store.get_facts(user.user_id, [verdict.duplicate_of])
            old = found[0] if found else None
            if old is not None and old.is_current:
                merged = old.model_copy(update={"episodes": list(dict.fromkeys([*old.episodes, ep.uuid]))})
                self.store.save_fact(merged)
                batch.facts[merged.uuid] = merged
                return
        same = self.store.facts_from(user.user_id, fact.source_uuid, fact.relation)
        opp_rel = opposite_relation(fact.relation)
        opposite = self.store.facts_from(user.user_id, fact.source_uuid, opp_rel) if opp_rel else []
        res = resolve_fact(fact, same, opposite, episode_uuid=ep.uuid, now=now, ends=draft.ends)
        changed = ([res.new] if res.new else []) + res.updated
        if verdict is not None and res.new is not None:
            closing = [f for f in self.store.get_facts(user.user_id, verdict.contradicts) if f.is_current]
            changed += [f.model_copy(update={"invalid_at": fact.valid_at or now, "expired_at": now,
                                             "invalidated_by": ep.uuid}) for f in closing]
        for f in changed:
            self.store.save_fact(f)
            batch.facts[f.uuid] = f
        for ent in draft.endpoints:
            if res.new and not ent.summary and not ent.attributes.get("is_user"):
                ent.summary = res.new.fact[:200]
                self.store.save_entity(ent)
                batch.entities[ent.uuid] = ent
