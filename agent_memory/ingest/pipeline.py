"""The ingestion pipeline: pending episodes -> extract -> resolve -> invalidate -> embed -> index -> observe.

Episodes of one user are processed in reference-time order, a batch per transaction.
Ids of derived records are deterministic (uuid5 of the episode and position, or of the
user and name), so a batch that is retried after a crash rewrites the same records and
vectors instead of adding new ones.
"""

from __future__ import annotations

import logging
import threading
import uuid as _uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .._time import utcnow
from ..embedding.base import Embedder
from ..errors import AgentMemoryError, StorageError, UserNotFoundError
from ..extraction.base import ExtractedEntity, Extraction, ExtractionContext, Extractor
from ..extraction.relations import normalize_relation, opposite_relation
from ..models import Entity, Episode, EpisodeSource, EpisodeStatus, Fact, User
from ..storage.sqlite import SQLiteStore, normalize_name
from ..storage.vectors import VectorIndex
from .observe import update_observations, update_summary
from .temporal import resolve_fact

__all__ = ["Ingestor", "user_entity", "entity_id"]

log = logging.getLogger(__name__)
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
class _Batch:
    """Records a batch changed, to embed and index at its end."""

    facts: dict[str, Fact] = field(default_factory=dict)
    entities: dict[str, Entity] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    name_vectors: dict[str, np.ndarray] = field(default_factory=dict)


class Ingestor:
    """Runs the pipeline for one user at a time; safe to call from several threads."""

    def __init__(self, store: SQLiteStore, index: VectorIndex, embedder: Embedder, extractor: Extractor,
                 json_extractor: Extractor, *, batch_size: int = 64, merge_threshold: float = 0.93) -> None:
        self.store, self.index, self.embedder = store, index, embedder
        self.extractor, self.json_extractor = extractor, json_extractor
        self.batch_size, self.merge_threshold = batch_size, merge_threshold
        self._user_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _lock_for(self, user_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._user_locks.setdefault(user_id, threading.Lock())

    def process_user(self, user_id: str) -> int:
        """Process every pending episode of the user; returns how many were handled."""
        with self._lock_for(user_id):
            user = self.store.get_user(user_id)
            if user is None:
                raise UserNotFoundError(f"user {user_id!r} does not exist", user_id=user_id)
            done, touched = 0, set()
            while batch := self.store.pending_episodes(user_id, limit=self.batch_size):
                touched |= self._process_batch(user, batch)
                done += len(batch)
            if done:
                update_observations(self.store, self.index, self.embedder, user, touched)
                update_summary(self.store, user)
            return done

    # -- extraction -------------------------------------------------------------------------
    def _context(self, user: User) -> ExtractionContext:
        aliases = [a for a in (user.first_name, user.user_id) if a]
        return ExtractionContext(user_id=user.user_id, user_name=user.display_name, user_aliases=aliases)

    def _extract(self, user: User, episodes: Sequence[Episode]) -> dict[str, Extraction | Exception]:
        ctx = self._context(user)
        out: dict[str, Extraction | Exception] = {}
        for extractor, group in (
            (self.json_extractor, [e for e in episodes if e.source == EpisodeSource.json]),
            (self.extractor, [e for e in episodes if e.source != EpisodeSource.json]),
        ):
            if not group:
                continue
            try:
                out.update({x.episode_uuid: x for x in extractor.extract(group, ctx)})
            except Exception:  # one bad episode must not sink the batch: retry one by one
                for ep in group:
                    try:
                        out.update({x.episode_uuid: x for x in extractor.extract([ep], ctx)})
                    except Exception as exc:  # noqa: BLE001 - recorded on the episode
                        out[ep.uuid] = exc
        return out

    # -- one batch ----------------------------------------------------------------------------
    def _process_batch(self, user: User, episodes: list[Episode]) -> set[str]:
        extractions = self._extract(user, episodes)
        batch = _Batch()
        self._embed_new_names(user, [x for x in extractions.values() if isinstance(x, Extraction)], batch)
        now = utcnow()
        with self.store.atomic():
            for ep in episodes:
                result = extractions.get(ep.uuid) or Extraction(episode_uuid=ep.uuid)
                if isinstance(result, Exception):
                    log.warning("extraction failed for episode %s: %s", ep.uuid, result)
                    self.store.set_episode_status(ep.uuid, EpisodeStatus.failed,
                                                  f"{type(result).__name__}: {result}")
                    continue
                try:
                    with self.store.atomic():
                        self._apply(user, ep, result, batch, now)
                        self.store.set_episode_status(ep.uuid, EpisodeStatus.processed)
                except StorageError:
                    raise
                except Exception as exc:  # noqa: BLE001 - recorded on the episode, retryable
                    log.exception("processing failed for episode %s", ep.uuid)
                    self.store.set_episode_status(ep.uuid, EpisodeStatus.failed, f"{type(exc).__name__}: {exc}")
            self._index(user, episodes, batch)
        return batch.touched

    def _embed_new_names(self, user: User, extractions: list[Extraction], batch: _Batch) -> None:
        """One embedding call for every name the graph does not know, for similarity-based merging."""
        if self.merge_threshold >= 1.0 or not self.index.count(user.user_id, "entity"):
            return
        names = {n for x in extractions for n in [*(e.name for e in x.entities),
                                                   *(f.source for f in x.facts), *(f.target for f in x.facts)]}
        known = self.store.entities_by_names(user.user_id, sorted(names))
        unknown = sorted(n for n in names if normalize_name(n) not in known and normalize_name(n))
        if unknown:
            vectors = self.embedder.embed_batch(unknown)
            batch.name_vectors = {normalize_name(n): v for n, v in zip(unknown, vectors)}

    def _resolve_entity(self, user: User, ent: ExtractedEntity, batch: _Batch, now: object) -> Entity:
        names = self.store.entities_by_names(user.user_id, [ent.name, *ent.aliases])
        candidates = [e for found in names.values() for e in found]
        if candidates:
            same_type = [e for e in candidates if e.type == ent.type]
            return (same_type or candidates)[0]
        new = Entity(uuid=entity_id(user.user_id, ent.name), user_id=user.user_id, name=ent.name.strip(),
                     type=ent.type, aliases=[a for a in ent.aliases if a != ent.name], summary=ent.summary,
                     attributes=ent.attributes)
        vector = batch.name_vectors.get(normalize_name(new.name))
        if vector is not None:
            hits = self.index.query(user.user_id, "entity", vector, 1)
            if hits and hits[0][1] >= self.merge_threshold:
                match = self.store.get_entities([hits[0][0]])
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

    def _apply(self, user: User, ep: Episode, ex: Extraction, batch: _Batch, now: object) -> None:
        by_name: dict[str, Entity] = {}
        for ent in ex.entities:
            by_name[normalize_name(ent.name)] = self._resolve_entity(user, ent, batch, now)
        for i, xf in enumerate(ex.facts):
            ends = {}
            for role, name, etype in (("source", xf.source, xf.source_type), ("target", xf.target, xf.target_type)):
                key = normalize_name(name)
                if key not in by_name:
                    by_name[key] = self._resolve_entity(user, ExtractedEntity(name=name, type=etype), batch, now)
                ends[role] = by_name[key]
            relation = normalize_relation(xf.relation)
            fact = Fact(
                uuid=str(_uuid.uuid5(_NS, f"fact:{ep.uuid}:{i}")), user_id=user.user_id,
                source_uuid=ends["source"].uuid, target_uuid=ends["target"].uuid,
                source_name=ends["source"].name, target_name=ends["target"].name, relation=relation,
                fact=xf.fact.strip(), valid_at=xf.valid_at or (None if xf.ends else ep.reference_time),
                invalid_at=xf.invalid_at or (ep.reference_time if xf.ends else None), created_at=now,
                episodes=[ep.uuid], attributes=xf.attributes,
            )
            same = self.store.facts_from(user.user_id, fact.source_uuid, relation)
            opp_rel = opposite_relation(relation)
            opposite = self.store.facts_from(user.user_id, fact.source_uuid, opp_rel) if opp_rel else []
            res = resolve_fact(fact, same, opposite, episode_uuid=ep.uuid, now=now, ends=xf.ends)  # type: ignore[arg-type]
            for changed in ([res.new] if res.new else []) + res.updated:
                self.store.save_fact(changed)
                batch.facts[changed.uuid] = changed
            for ent in ends.values():
                if res.new and not ent.summary and not ent.attributes.get("is_user"):
                    ent.summary = res.new.fact[:200]
                    self.store.save_entity(ent)
                    batch.entities[ent.uuid] = ent
        pairs = [(e.uuid, ep.uuid) for e in {e.uuid: e for e in by_name.values()}.values()]
        self.store.add_mentions(user.user_id, pairs)
        batch.touched.update(e for e, _ in pairs)

    # -- vectors --------------------------------------------------------------------------------
    def _index(self, user: User, episodes: list[Episode], batch: _Batch) -> None:
        """Embed and upsert what the batch wrote; runs inside the batch transaction."""
        groups: list[tuple[str, list[str], list[str]]] = [
            ("episode", [e.uuid for e in episodes], [episode_text(e) for e in episodes]),
            ("fact", list(batch.facts), [f.fact for f in batch.facts.values()]),
            ("entity", list(batch.entities), [entity_text(e) for e in batch.entities.values()]),
        ]
        texts = [t for _, _, ts in groups for t in ts]
        if not texts:
            return
        try:
            vectors = np.asarray(self.embedder.embed_batch(texts), dtype=np.float32)
        except AgentMemoryError:
            raise
        except Exception as exc:
            raise StorageError(f"embedding failed; the episodes stay pending: {exc}") from exc
        start = 0
        for kind, ids, ts in groups:
            if ids:
                self.index.upsert(user.user_id, kind, ids, vectors[start : start + len(ts)])  # type: ignore[arg-type]
            start += len(ts)


def episode_text(ep: Episode) -> str:
    """What an episode is embedded as: the speaker's name and the content."""
    return f"{ep.name}: {ep.content}" if ep.name else ep.content


def entity_text(ent: Entity) -> str:
    """What an entity is embedded as: name, type and summary."""
    return f"{ent.name} ({ent.type})" + (f": {ent.summary}" if ent.summary else "")
