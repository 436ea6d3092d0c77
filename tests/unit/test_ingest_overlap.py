"""Ingestion keeps both cores busy: a second thread may run part of an embedding, a backlog's run
lets reads in flight finish between its batches."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from agent_memory import EpisodeStatus, Memory, MemoryConfig, Message
from agent_memory.embedding._sharing import SharedRuns
from agent_memory.errors import EmbeddingError
from agent_memory.extraction.base import Extraction, ExtractionContext
from agent_memory.models import Episode
from agent_memory.testing.extractors import TripleExtractor
from agent_memory.testing.fakes import HashEmbedder

WORDS = ["pottery", "camping", "the beach", "a support group", "painting", "the museum", "a concert", "hiking"]


def _help_until_taken(helper: Any, deadline: float = 30.0) -> None:
    """Call ``helper`` until it took a run (the owner registers its runs before running the first)."""
    end = time.monotonic() + deadline
    while not helper():
        assert time.monotonic() < end, "no run to take"
        time.sleep(0.001)


def test_a_second_thread_runs_part_of_an_embedding_and_the_vectors_stay_the_same(
        real_embedder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [f"Caroline: last week I went to {w} with my kids, day {i}, and it was great" for i, w in
             enumerate(WORDS * 5)]
    alone = real_embedder.embed_batch(texts)  # loads the model; several sub-batches (256 padded tokens each)
    ran_by: list[str] = []
    helped = threading.Event()
    original = real_embedder._run

    def run(encodings: list[Any]) -> np.ndarray:
        name = threading.current_thread().name
        ran_by.append(name)
        if name == "owner" and not helped.is_set():
            helped.wait(30)  # handshake: the helper takes one of the remaining sub-batches meanwhile
        try:
            return original(encodings)  # type: ignore[no-any-return]
        finally:
            if name == "helper":
                helped.set()

    monkeypatch.setattr(real_embedder, "_run", run)
    result: dict[str, np.ndarray] = {}
    owner = threading.Thread(target=lambda: result.setdefault("v", real_embedder.embed_batch(texts)), name="owner")
    helper = threading.Thread(target=_help_until_taken, args=(real_embedder.help,), name="helper")
    owner.start()
    helper.start()
    helper.join()
    owner.join()
    assert {"owner", "helper"} <= set(ran_by)
    assert np.array_equal(result["v"], alone)  # the same sub-batches, whoever ran them
    assert real_embedder.help() is False  # nothing left to take


def test_a_run_that_fails_on_the_helping_thread_fails_the_owners_call() -> None:
    shared = SharedRuns()
    helped = threading.Event()

    def run(items: list[Any]) -> np.ndarray:
        if threading.current_thread().name == "helper":
            helped.set()
            raise EmbeddingError("MiniLM inference failed: out of memory")
        helped.wait(30)
        return np.ones((len(items), 2), dtype=np.float32)

    out = np.zeros((3, 2), dtype=np.float32)
    errors: list[BaseException] = []

    def owner() -> None:
        try:
            shared.execute([[0], [1], [2]], ["a", "b", "c"], out, run)
        except EmbeddingError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=owner, name="owner"),
               threading.Thread(target=_help_until_taken, args=(lambda: shared.help(run),), name="helper")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [str(e) for e in errors] == ["MiniLM inference failed: out of memory"]
    assert shared.help(run) is False


class _Gated:
    """The real test extractor, with a handshake around its first call."""

    def __init__(self) -> None:
        self.inner, self.calls = TripleExtractor(), 0
        self.extracting, self.go = threading.Event(), threading.Event()

    def extract(self, episodes: Sequence[Episode], context: ExtractionContext) -> list[Extraction]:
        self.calls += 1
        if self.calls == 1:
            self.extracting.set()
            self.go.wait(30)
        return self.inner.extract(episodes, context)


def test_a_backlog_run_lets_a_read_in_flight_finish_before_its_next_batch() -> None:
    extractor = _Gated()
    config = MemoryConfig(home=None, vector_backend="exact", ingest_mode="background", ingest_batch_size=2)
    with Memory.ephemeral(config=config, embedder=HashEmbedder(), extractor=extractor) as mem:
        mem.user.add(user_id="jane", first_name="Jane")
        mem.thread.create(thread_id="t1", user_id="jane")
        worker = mem._core.worker
        assert worker is not None
        worker.patience = 60.0
        holds: list[str] = []
        between = threading.Event()
        original = worker._reads_first

        def reads_first(user_id: str) -> None:
            if threading.current_thread().name != "agent-memory-ingest":  # work queued ahead holds too
                return original(user_id)
            holds.append(user_id)
            if len(holds) > 1:  # not the hold before the run: one between two of its batches
                between.set()
            original(user_id)

        worker._reads_first = reads_first  # type: ignore[method-assign]
        mem.thread.add_messages("t1", messages=[Message(role="user", content=f"I | VISITED | City{i}")
                                                for i in range(6)])
        assert extractor.extracting.wait(30)  # the first batch is being extracted
        with mem._core.readers:  # a read starts meanwhile
            extractor.go.set()
            assert between.wait(30)  # the first batch is done; the run holds its next one for the read
            assert extractor.calls == 1
            assert sum(e.status == EpisodeStatus.processed for e in mem.graph.episodes(user_id="jane")) == 2
        mem.wait_until_processed("jane", timeout=30)
        assert extractor.calls == 3
        assert len(mem.graph.facts(user_id="jane")) == 6


class _Counting(TripleExtractor):
    """The test extractor, counting its calls (one per batch)."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def extract(self, episodes: Sequence[Episode], context: ExtractionContext) -> list[Extraction]:
        self.sizes.append(len(episodes))
        return super().extract(episodes, context)


@pytest.mark.parametrize(("batch_size", "sizes"), [(None, [128, 72]), (64, [64, 64, 64, 8])])
def test_a_backlog_is_taken_in_batches_of_128_offline_unless_configured(batch_size: int | None,
                                                                       sizes: list[int]) -> None:
    extractor = _Counting()
    config = MemoryConfig(home=None, vector_backend="exact", ingest_mode="background", ingest_batch_size=batch_size)
    with Memory.ephemeral(config=config, embedder=HashEmbedder(), extractor=extractor) as mem:
        mem.user.add(user_id="jane", first_name="Jane")
        mem.thread.create(thread_id="t1", user_id="jane")
        with mem._core.ingestor.user_lock("jane"):  # the backlog piles up before the run starts
            mem.thread.add_messages("t1", messages=[Message(role="user", content=f"I | VISITED | City{i}")
                                                    for i in range(200)])
        mem.wait_until_processed("jane", timeout=60)
        assert extractor.sizes == sizes
        assert len(mem.graph.facts(user_id="jane", limit=500)) == 200


class _Recording:
    """An embedder that passes texts to another, recording each call's texts (what reaches the model)."""

    def __init__(self, inner: Any, seen: threading.Event | None = None, wanted: str = "") -> None:
        self.inner, self.calls = inner, list[list[str]]()
        self.name, self.dimensions = inner.name, inner.dimensions
        self.seen, self.wanted = seen, wanted

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        if self.seen is not None and any(self.wanted in t for t in texts):
            self.seen.set()
        return self.inner.embed_batch(texts)  # type: ignore[no-any-return]


class _WaitsForText(TripleExtractor):
    """Holds the first batch's extraction until the embedder has been asked for a given text."""

    def __init__(self, seen: threading.Event) -> None:
        self.seen, self.held = seen, None  # type: threading.Event, bool | None

    def extract(self, episodes: Sequence[Episode], context: ExtractionContext) -> list[Extraction]:
        if self.held is None:  # the first call only
            self.held = self.seen.wait(30)
        return super().extract(episodes, context)


def _episode_vectors(mem: Memory, user_id: str) -> dict[str, np.ndarray]:
    part = mem._core.store.index._parts[(user_id, "episode")]
    by_content = {e.uuid: e.content for e in mem.graph.episodes(user_id=user_id, limit=100)}
    return {by_content[i]: part.matrix[part.rows[i]].copy() for i in part.ids}


def test_a_run_embeds_its_next_batch_while_it_extracts_one_and_the_vectors_stay_the_same(
        real_embedder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [f"I | VISITED | {w.title().replace(' ', '')} on day {i}" for i, w in enumerate(WORDS)]
    stored, calls = [], []
    for look_ahead in (True, False):
        seen = threading.Event()
        recording = _Recording(real_embedder, seen, wanted=texts[3])  # the second batch's first message
        config = MemoryConfig(home=None, vector_backend="exact", ingest_mode="inline", ingest_batch_size=3)
        with Memory.ephemeral(config=config, embedder=recording, extractor=_WaitsForText(seen)) as mem:
            if not look_ahead:
                monkeypatch.setattr(mem._core.ingestor, "warm", lambda *a, **k: None)
                seen.set()  # nothing to wait for
            mem.user.add(user_id="jane", first_name="Jane")
            mem.thread.create(thread_id="t1", user_id="jane")
            mem.thread.add_messages("t1", messages=[Message(role="user", content=t) for t in texts])
            assert mem._core.ingestor.extractor.held  # the first batch waited for the second's vectors
            stored.append(_episode_vectors(mem, "jane"))
            calls.append(sorted(c for c in recording.calls if set(c) <= set(texts)))  # the episodes' calls
    assert calls[0] == calls[1]  # the same texts reached the model in the same calls, only earlier
    assert stored[0].keys() == stored[1].keys() == set(texts)
    for text in texts:
        assert np.array_equal(stored[0][text], stored[1][text])


def test_the_background_worker_embeds_the_next_users_messages_while_it_runs_one() -> None:
    seen = threading.Event()
    recording = _Recording(HashEmbedder(), seen, wanted="Bob went to Paris")
    config = MemoryConfig(home=None, vector_backend="exact", ingest_mode="background")
    with Memory.ephemeral(config=config, embedder=recording, extractor=_WaitsForText(seen)) as mem:
        for uid in ("jane", "bob"):
            mem.user.add(user_id=uid, first_name=uid.title())
            mem.thread.create(thread_id=f"t-{uid}", user_id=uid)
        with mem._core.ingestor.user_lock("jane"):  # both users' messages are queued before jane's run starts
            mem.thread.add_messages("t-jane", messages=[Message(role="user", content="I | VISITED | Rome")])
            mem.thread.add_messages("t-bob", messages=[Message(role="user", content="Bob went to Paris")])
        mem.wait_until_processed(timeout=60)
        assert mem._core.ingestor.extractor.held  # jane's extraction waited for bob's message to be embedded
        assert len(mem.graph.facts(user_id="jane")) == 1
        bob = [c for c in recording.calls if "Bob went to Paris" in c]
        assert len(bob) == 1  # embedded once, ahead of bob's run, which found it cached
