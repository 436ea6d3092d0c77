"""Ingestion: nothing accepted is lost, failures are kept and retryable, processing resumes."""

from __future__ import annotations

import time

import numpy as np
import pytest

from agent_memory import EpisodeStatus, Memory, MemoryConfig, Message
from agent_memory.errors import StorageError
from agent_memory.ingest.indexer import entity_text
from agent_memory.storage.inmemory import ExactIndex
from agent_memory.testing.extractors import TripleExtractor
from agent_memory.testing.fakes import HashEmbedder


def test_failed_episode_keeps_error_and_others_proceed(memory: Memory) -> None:
    memory.thread.add_messages("t1", messages=[
        Message(role="user", content="I | LIKES | tea"),
        Message(role="user", content="FAIL here"),
        Message(role="user", content="I | LIKES | jazz"),
    ])
    failed = memory.graph.episodes(user_id="jane", status="failed")
    assert [e.content for e in failed] == ["FAIL here"] and "cannot read episode" in (failed[0].error or "")
    assert {f.target_name for f in memory.graph.facts(user_id="jane")} == {"tea", "jazz"}
    assert len(memory.thread.get_messages("t1")) == 3  # the raw record is complete


def test_retry_failed_reprocesses(memory: Memory) -> None:
    memory.thread.add_messages("t1", messages=[Message(role="user", content="FAIL once")])
    assert memory.graph.retry_failed(user_id="jane") == 1
    assert memory.graph.episodes(user_id="jane", status="failed")[0].content == "FAIL once"  # still failing


class FlakyIndex(ExactIndex):
    """An index that fails while ``broken`` is set, like a Chroma server going away."""

    broken = False

    def upsert(self, user_id, kind, ids, vectors: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        if self.broken:
            raise StorageError("vector index unavailable")
        super().upsert(user_id, kind, ids, vectors)


def test_a_vector_index_outage_loses_nothing_and_catches_up() -> None:
    """Records commit with their vector tasks; while the index is down the vectors stay owed, and
    once it is back ``wait_until_processed`` writes them: search finds everything again."""
    index = FlakyIndex()
    with Memory.ephemeral(embedder=HashEmbedder(), extractor=TripleExtractor(), vector_index=index) as mem:
        mem.user.add(user_id="jane", first_name="Jane")
        mem.thread.create(thread_id="t1", user_id="jane")
        index.broken = True
        mem.thread.add_messages("t1", messages=[Message(role="user", content="I | LIVES_IN | Oslo")])
        assert [e.status for e in mem.graph.episodes(user_id="jane")] == [EpisodeStatus.processed]
        [fact] = mem.graph.facts(user_id="jane")  # accepted and processed: nothing waits on the index
        assert fact.target_name == "Oslo"
        with pytest.raises(StorageError):  # still down: waiting says so
            mem.wait_until_processed("jane")
        assert index.count("jane", "fact") == 0
        index.broken = False
        mem.wait_until_processed("jane")
        assert index.count("jane", "fact") == 1 and index.count("jane", "episode") == 1
        assert [r.fact.uuid for r in mem.graph.search(user_id="jane", query="Oslo")] == [fact.uuid]
        mem.wait_until_processed("jane")  # idempotent: nothing new
        assert len(mem.graph.facts(user_id="jane")) == 1


def test_background_mode_returns_at_once_and_waits() -> None:
    config = MemoryConfig(home=None, vector_backend="exact", ingest_mode="background")
    with Memory.ephemeral(config=config, embedder=HashEmbedder(), extractor=TripleExtractor()) as mem:
        mem.user.add(user_id="jane", first_name="Jane")
        mem.thread.create(thread_id="t1", user_id="jane")
        for i in range(5):
            mem.thread.add_messages("t1", messages=[Message(role="user", content=f"I | VISITED | City{i}")])
        mem.wait_until_processed("jane", timeout=30)
        assert len(mem.graph.facts(user_id="jane")) == 5
        assert all(e.status == EpisodeStatus.processed for e in mem.graph.episodes(user_id="jane"))


def test_user_and_thread_lifecycle(memory: Memory) -> None:
    memory.user.add(user_id="bob", first_name="Bob")
    assert [u.user_id for u in memory.user.list()] == ["jane", "bob"]
    updated = memory.user.update("bob", last_name="Stone", metadata={"tier": "pro"})
    assert updated.display_name == "Bob Stone" and memory.user.get("bob").metadata == {"tier": "pro"}
    memory.thread.create(thread_id="t2", user_id="jane")
    assert [t.thread_id for t in memory.thread.list(user_id="jane")] == ["t1", "t2"]
    memory.thread.add_messages("t2", messages=[Message(role="user", content="I | OWNS | a bike")])
    memory.thread.delete("t2")
    assert [t.thread_id for t in memory.thread.list(user_id="jane")] == ["t1"]
    assert memory.graph.facts(user_id="jane")[0].target_name == "a bike"  # the graph keeps what it learned
    memory.user.delete("bob")
    assert [u.user_id for u in memory.user.list()] == ["jane"]


def test_get_messages_last_n_and_order(memory: Memory) -> None:
    memory.thread.add_messages("t1", messages=[Message(role="user", content=f"m{i}") for i in range(5)])
    assert [m.content for m in memory.thread.get_messages("t1", last=2)] == ["m3", "m4"]
    assert [m.content for m in memory.thread.get_messages("t1")] == [f"m{i}" for i in range(5)]


def test_episode_filters(memory: Memory) -> None:
    memory.graph.add(user_id="jane", type="text", data="old note", created_at="2023-01-01T00:00:00Z")
    memory.graph.add(user_id="jane", type="text", data="new note", created_at="2024-06-01T00:00:00Z")
    memory.thread.add_messages("t1", messages=[Message(role="user", content="hello",
                                                       created_at="2024-06-02T00:00:00Z")])
    got = memory.graph.episodes(user_id="jane", source="text", since="2024-01-01T00:00:00Z")
    assert [e.content for e in got] == ["new note"]
    assert [e.content for e in memory.graph.episodes(user_id="jane", thread_id="t1")] == ["hello"]


def test_closed_memory_refuses_work() -> None:
    from agent_memory.errors import ClosedError

    mem = Memory.ephemeral(embedder=HashEmbedder(), extractor=TripleExtractor())
    mem.close()
    with pytest.raises(ClosedError):
        mem.user.list()


def test_embedder_cannot_change_under_a_memory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from agent_memory.errors import ConfigError

    cfg = MemoryConfig(home=tmp_path, vector_backend="exact")
    Memory(config=cfg, embedder=HashEmbedder(64), extractor=TripleExtractor()).close()
    with pytest.raises(ConfigError, match="same embedder.*agent-memory reindex --home"):
        Memory(config=cfg, embedder=HashEmbedder(32), extractor=TripleExtractor())


def test_json_events_become_facts_and_each_occurrence_counts() -> None:
    import json

    from agent_memory.extraction.json import JsonExtractor

    with Memory.ephemeral(embedder=HashEmbedder(), extractor=TripleExtractor(), json_extractor=JsonExtractor()) as mem:
        mem.user.add(user_id="jane", first_name="Jane", last_name="Smith")
        for day in ("2024-03-25", "2024-04-25"):
            mem.graph.add(user_id="jane", type="json", data=json.dumps(
                {"event_type": "payment_failed", "plan": "Pro", "amount": 49.0, "timestamp": f"{day}T07:45:00Z"}))
        mem.graph.add(user_id="jane", type="json", data=json.dumps(
            {"event_type": "plan_changed", "plan": "Business", "timestamp": "2024-05-01T00:00:00Z"}))
        events = mem.graph.facts(user_id="jane", relation="PAYMENT_FAILED")
        assert [f"{f.valid_at:%Y-%m-%d}" for f in events] == ["2024-03-25", "2024-04-25"]
        plans = {f.target_name: f for f in mem.graph.facts(user_id="jane", relation="HAS_PLAN")}
        assert plans["Business"].invalid_at is None
        assert f"{plans['Pro'].invalid_at:%Y-%m-%d}" == "2024-05-01"
        block = mem.context.get(user_id="jane", query="did my payment fail?").context
        assert "payment_failed" in block


def test_delete_episode_forgets_it_and_what_only_it_said(memory: Memory) -> None:
    [a, b] = memory.thread.add_messages("t1", messages=[
        Message(role="user", content="I | OWNS | a kayak"), Message(role="user", content="I | LIKES | rowing")])
    memory.thread.add_messages("t1", messages=[Message(role="user", content="I | LIKES | rowing")])
    memory.graph.delete_episode(user_id="jane", uuid=a.uuid)
    memory.graph.delete_episode(user_id="jane", uuid=b.uuid)
    assert [f.target_name for f in memory.graph.facts(user_id="jane")] == ["rowing"]  # still stated elsewhere
    hits = memory.graph.search(user_id="jane", query="kayak", scope="episodes", limit=10)
    assert all("kayak" not in (h.episode.content if h.episode else "") for h in hits)
    from agent_memory.errors import EpisodeNotFoundError

    with pytest.raises(EpisodeNotFoundError):
        memory.graph.delete_episode(user_id="jane", uuid=a.uuid)


def test_deleting_a_thread_drops_its_vectors(memory: Memory) -> None:
    memory.thread.create(thread_id="t2", user_id="jane")
    memory.thread.add_messages("t2", messages=[Message(role="user", content="kayak kayak kayak")])
    memory.thread.delete("t2")
    assert memory.graph.search(user_id="jane", query="kayak", scope="episodes") == []


def test_a_reply_is_embedded_leaning_towards_the_message_it_answers() -> None:
    embedder, index = HashEmbedder(), ExactIndex()
    with Memory.ephemeral(embedder=embedder, extractor=TripleExtractor(), vector_index=index) as mem:
        mem.user.add(user_id="jane", first_name="Jane")
        mem.thread.create(thread_id="t1", user_id="jane")
        [question] = mem.thread.add_messages("t1", messages=[
            Message(role="assistant", content="Did you paint the lighthouse?", created_at="2024-03-01T09:00:00Z")])
        [reply] = mem.thread.add_messages("t1", messages=[  # a later call: the question is read from the store
            Message(role="user", content="Yes, last summer!", created_at="2024-03-01T09:01:00Z")])
        asked = embedder.embed_batch(["Did you paint the lighthouse?"])[0]  # no name: embedded as its content
        hits = dict(index.query("jane", "episode", asked, 5))
        own = float(embedder.embed_batch(["Yes, last summer!"])[0] @ asked)
        assert hits[reply.uuid] > own + 0.2  # the reply is found by what it answers
        assert hits[question.uuid] == pytest.approx(1.0, abs=1e-5)  # the first message is itself alone


def test_a_run_of_several_batches_gives_every_record_its_own_vector() -> None:
    """More pending messages than a batch: the next batch's episode vectors are computed while the current
    one is indexed, and the indexer embeds facts and entities together; each vector must still be its own
    record's (a reply's leaning towards the message before it, across batch boundaries too)."""
    embedder, index = HashEmbedder(), ExactIndex()
    config = MemoryConfig(home=None, vector_backend="exact", ingest_batch_size=3)
    with Memory.ephemeral(config=config, embedder=embedder, extractor=TripleExtractor(), vector_index=index) as mem:
        mem.user.add(user_id="jane", first_name="Jane")
        mem.thread.create(thread_id="t1", user_id="jane")
        texts = [f"I | VISITED | City{i}" for i in range(8)]
        episodes = mem.thread.add_messages("t1", messages=[
            Message(role="user", content=t, created_at=f"2024-03-01T09:0{i}:00Z") for i, t in enumerate(texts)])
        assert all(e.status == EpisodeStatus.processed for e in mem.graph.episodes(user_id="jane"))
        own = embedder.embed_batch(texts)
        for i, ep in enumerate(episodes):
            expected = own[i] + (0.3 * own[i - 1] if i else 0.0)
            expected /= np.linalg.norm(expected)
            assert dict(index.query("jane", "episode", expected, 8))[ep.uuid] == pytest.approx(1.0, abs=1e-5)
        facts = mem.graph.facts(user_id="jane")
        assert len(facts) == 8
        for fact in facts:
            hits = dict(index.query("jane", "fact", embedder.embed_batch([fact.fact])[0], 8))
            assert hits[fact.uuid] == pytest.approx(1.0, abs=1e-5)
        for entity in mem.graph.entities(user_id="jane"):
            hits = dict(index.query("jane", "entity", embedder.embed_batch([entity_text(entity)])[0], 20))
            assert hits[entity.uuid] == pytest.approx(1.0, abs=1e-5)


def test_background_ingestion_lets_a_read_in_flight_finish_first() -> None:
    # an agent's turn adds its message and reads context at once: the read keeps the cores, the
    # message is processed right after it; a caller waiting for processing is not held back
    config = MemoryConfig(home=None, vector_backend="exact", ingest_mode="background")
    with Memory.ephemeral(config=config, embedder=HashEmbedder(), extractor=TripleExtractor()) as mem:
        mem.user.add(user_id="jane", first_name="Jane")
        mem.thread.create(thread_id="t1", user_id="jane")
        worker = mem._core.worker
        assert worker is not None
        worker.patience = 30.0
        with mem._core.readers:  # a read in flight
            mem.thread.add_messages("t1", messages=[Message(role="user", content="I | VISITED | Oslo")])
            time.sleep(0.3)
            assert [e.status for e in mem.graph.episodes(user_id="jane")] == [EpisodeStatus.pending]
        mem.wait_until_processed("jane", timeout=10)  # the read is over: it runs now, not after 30 s
        assert [f.target_name for f in mem.graph.facts(user_id="jane")] == ["Oslo"]
        with mem._core.readers:
            mem.thread.add_messages("t1", messages=[Message(role="user", content="I | VISITED | Rome")])
            mem.wait_until_processed("jane", timeout=10)  # waiting for it hurries it past the read
        assert len(mem.graph.facts(user_id="jane")) == 2
