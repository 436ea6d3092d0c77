"""A backlog's run stores its episode vectors a few batches at a time: on real stores (SQLite with
embedded Chroma, PostgreSQL), nothing it committed loses its vector, even when the run dies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent_memory import EpisodeStatus, Memory, Message
from agent_memory.errors import StorageError
from agent_memory.testing.extractors import TripleExtractor
from agent_memory.testing.fakes import HashEmbedder


def _dies_once(method: Callable[..., Any], die_at: int) -> Callable[..., Any]:
    """``method`` of the real store, whose ``die_at``-th call fails as a lost database connection would."""
    calls = [0]

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == die_at:
            raise StorageError("database connection lost")
        return method(*args, **kwargs)
    return wrapped


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(tmp_path / "home")


@pytest.mark.parametrize("flush_every", [2, 256])
def test_a_run_that_dies_mid_backlog_keeps_the_vectors_of_what_it_committed(target: str, flush_every: int) -> None:
    with Memory(target, embedder=HashEmbedder(), extractor=TripleExtractor()) as mem:
        ingestor, store = mem._core.ingestor, mem._core.store
        ingestor.batch_size, ingestor.vector_flush = 2, flush_every
        store.add_mentions = _dies_once(store.add_mentions, die_at=5)  # the third batch's first episode
        mem.user.add(user_id="jane", first_name="Jane")
        mem.thread.create(thread_id="t1", user_id="jane")
        mem.thread.add_messages("t1", messages=[
            Message(role="user", content=f"I | VISITED | City{i}", created_at=f"2024-03-01T09:0{i}:00Z")
            for i in range(7)])  # accepted; the run commits two batches, then dies on the third
        statuses = [e.status for e in mem.graph.episodes(user_id="jane")]
        assert statuses.count(EpisodeStatus.processed) == 4 and statuses.count(EpisodeStatus.pending) == 3
        assert store.count_vectors("jane", "episode") == 4  # stored although the run failed
        assert store.count_vectors("jane", "fact") == 4
        mem.wait_until_processed("jane")  # resumes where it stopped
        assert all(e.status == EpisodeStatus.processed for e in mem.graph.episodes(user_id="jane"))
        assert store.count_vectors("jane", "episode") == 7 and store.count_vectors("jane", "fact") == 7
        assert store.vector_tasks(100, user_id="jane") == []
        assert {r.fact.target_name for r in mem.graph.search(user_id="jane", query="City5 visited", limit=7)} >= {
            "City5"}
