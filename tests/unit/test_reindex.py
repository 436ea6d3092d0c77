"""Reindexing replaces every vector with another embedder's, and a half-done reindex cannot be opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_memory import Memory, MemoryConfig, Message
from agent_memory.errors import ConfigError, InvalidInputError
from agent_memory.ingest.reindex import REINDEXING, reindex, resolve_embedder
from agent_memory.testing.extractors import TripleExtractor
from agent_memory.testing.fakes import HashEmbedder


def _fill(mem: Memory) -> None:
    mem.user.add(user_id="jane", first_name="Jane")
    for n, city in enumerate(["Oslo", "Denver", "Denver"]):
        mem.thread.create(thread_id=f"t{n}", user_id="jane")
        mem.thread.add_messages(f"t{n}", messages=[Message(role="user", content=f"I | LIVES_IN | {city}"),
                                                   Message(role="user", content=f"I | LIKES | tea {n}")])


def test_reindex_rewrites_every_vector_with_the_new_embedder() -> None:
    with Memory.ephemeral(embedder=HashEmbedder(64), extractor=TripleExtractor()) as mem:
        _fill(mem)
        store = mem._core.store
        before = {k: store.count_vectors("jane", k) for k in ("episode", "fact", "entity", "observation")}
        seen: list[int] = []
        totals: list[int] = []
        report = reindex(store, HashEmbedder(32), progress=seen.append, on_total=totals.append)
        after = {k: store.count_vectors("jane", k) for k in before}
        assert after == before and report.records == before and sum(seen) == report.written == totals[0]
        assert (report.before, report.after) == ("hash:64", "hash:32")
        assert store.get_meta("embedder") == "hash:32" and store.vector_tasks(100) == []
        query = HashEmbedder(32).embed_batch(["Jane lives in Denver"])
        [(best, score)] = store.search_vectors("jane", "fact", query, 1)[0][:1]
        assert store.get_facts("jane", [best])[0].target_name == "Denver" and score > 0.5


def test_a_memory_whose_reindex_did_not_finish_refuses_to_open(tmp_path: Path) -> None:
    cfg = MemoryConfig(home=tmp_path, vector_backend="exact")
    with Memory(config=cfg, embedder=HashEmbedder(64), extractor=TripleExtractor()) as mem:
        mem._core.store.set_meta("embedder", REINDEXING + "hash:32")  # as a crash mid-reindex leaves it
    for embedder in (HashEmbedder(64), HashEmbedder(32)):
        with pytest.raises(ConfigError, match="did not finish.*agent-memory reindex"):
            Memory(config=cfg, embedder=embedder, extractor=TripleExtractor())


def test_unknown_embedder_names_say_what_is_accepted() -> None:
    with pytest.raises(InvalidInputError, match="default, minilm-fp32, e5"):
        resolve_embedder("minilm-large")
    with pytest.raises(InvalidInputError, match="not an Embedder"):
        resolve_embedder("pathlib:Path")
    assert resolve_embedder("agent_memory.testing.fakes:HashEmbedder").name == "hash"
    assert resolve_embedder("minilm-fp32").name == "minilm-l6-v2-int8"  # constructing loads nothing
