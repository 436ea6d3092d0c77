"""The storage-only workload that crash tests kill: one definition for ``benchmarks/crash.py`` and
``tests/storage`` (real SQLite and Chroma; the hash embedder and the triple extractor, so what is
measured is storage, not models)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_memory import Memory, MemoryConfig, Message
from agent_memory.errors import AgentMemoryError
from agent_memory.storage.base import KINDS
from agent_memory.testing.extractors import TripleExtractor
from agent_memory.testing.fakes import HashEmbedder

__all__ = ["USERS", "ingest_forever", "open_memory", "records_without_vectors"]

USERS = ("jane", "bob")


def open_memory(home: str | Path, **config: Any) -> Memory:
    """A memory on ``home`` with the hash embedder and the triple extractor."""
    return Memory(config=MemoryConfig(home=Path(home), **config), embedder=HashEmbedder(),
                  extractor=TripleExtractor())


def ingest_forever(home: str | Path) -> None:
    """Open ``home``, add messages for two users alternately until killed; ``ready`` after the first call."""
    mem = open_memory(home)
    for user in USERS:
        try:
            mem.user.add(user_id=user, first_name=user.title())
            mem.thread.create(thread_id=f"{user}-t", user_id=user)
        except AgentMemoryError:  # a later round: they exist
            pass
    i = 0
    while True:
        i += 1
        user = USERS[i % 2]
        mem.thread.add_messages(f"{user}-t", messages=[
            Message(role="user", content=f"I | LIKES | thing{i} number {i}"),
            Message(role="assistant", content=f"Noted thing{i}, message {i}")])
        if i == 1:
            print("ready", flush=True)  # once something is acknowledged: a kill from now on may lose nothing


def records_without_vectors(mem: Memory) -> tuple[dict[str, int], int]:
    """(per kind, records with no vector; records checked) of an open memory on the embedded store.

    Pending episodes are not counted: they are embedded when processed.
    """
    store: Any = mem._core.store
    missing: dict[str, int] = {}
    checked = 0
    for user in store.user_ids():
        pending = {e.uuid for e in mem.graph.episodes(user_id=user, status="pending", limit=1_000_000)}
        for kind in KINDS:
            records = set(store.record_ids(user, kind)) - (pending if kind == "episode" else set())
            checked += len(records)
            gone = records - set(store.index.ids(user, kind))
            if gone:
                missing[kind] = missing.get(kind, 0) + len(gone)
    return missing, checked
