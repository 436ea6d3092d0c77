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
