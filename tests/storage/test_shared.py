"""Sharing one memory between processes through a Chroma server (records in the shared home's SQLite,
vectors on the server), and what is refused: a home-less config, since its records could not be shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_memory import Memory, MemoryConfig, Message
from agent_memory.errors import ConfigError, MemoryInUseError
from agent_memory.storage.inmemory import ExactIndex
from agent_memory.testing import crash
from agent_memory.testing.extractors import TripleExtractor
from agent_memory.testing.fakes import HashEmbedder

from .test_embedded import child

pytestmark = [pytest.mark.slow, pytest.mark.server]


def test_several_processes_write_one_user_through_a_chroma_server_and_nothing_is_lost(
        tmp_path: Path, chroma_server: tuple[str, int]) -> None:
    host, port = chroma_server
    home, per_process, tags = tmp_path / "home", 40, ("p1", "p2", "p3")
    with crash.open_memory(home, chroma_host=host, chroma_port=port) as watcher:  # open all along
        watcher.user.add(user_id="jane")
        procs = [child("add", str(home), str(per_process), "jane", host, str(port), tag) for tag in tags]
        results = [p.communicate(timeout=600) for p in procs]
        assert [out.strip() for out, _ in results] == ["ok"] * 3, [err[-800:] for _, err in results]
        # what the others wrote is seen at once, without reopening (no stale reader)
        episodes = watcher.graph.episodes(user_id="jane", limit=1000)
        assert len(episodes) == per_process * len(tags)
        for tag in tags:
            hits = watcher.graph.search(user_id="jane", query=f"{tag} says item7", scope="episodes")
            assert hits and hits[0].episode is not None and hits[0].episode.content.startswith(f"{tag} says item7")
        assert crash.records_without_vectors(watcher)[0] == {}
        kayaks = {e.name for e in watcher.graph.entities(user_id="jane", limit=100)} & {"kayak0", "kayak1", "kayak2"}
        assert kayaks == {"kayak0", "kayak1", "kayak2"}  # one entity each, written by all three
    with crash.open_memory(home, chroma_host=host, chroma_port=port) as again:
        assert again.reconciled.full and again.reconciled.repaired == 0  # a shared home: compared, nothing owed
        assert crash.records_without_vectors(again)[0] == {}


def test_an_embedded_opener_cannot_join_a_home_shared_through_a_server(
        tmp_path: Path, chroma_server: tuple[str, int]) -> None:
    host, port = chroma_server
    with crash.open_memory(tmp_path / "home", chroma_host=host, chroma_port=port), \
            pytest.raises(MemoryInUseError, match="Chroma server"):
        crash.open_memory(tmp_path / "home")  # embedded Chroma would write beside the server's vectors


def test_two_memories_on_one_chroma_server_keep_their_vectors_apart(
        tmp_path: Path, chroma_server: tuple[str, int]) -> None:
    host, port = chroma_server
    with crash.open_memory(tmp_path / "a", chroma_host=host, chroma_port=port) as a:
        a.user.add(user_id="jane")
        a.thread.create(thread_id="t", user_id="jane")
        a.thread.add_messages("t", messages=[Message(role="user", content="I | LIVES_IN | Oslo")])
        with crash.open_memory(tmp_path / "b", chroma_host=host, chroma_port=port) as b:  # b has no jane...
            assert b.reconciled.removed == {}  # ...and did not take a's collections for a deleted user's
            b.user.add(user_id="jane")
            assert b.graph.search(user_id="jane", query="Oslo") == []  # nor sees a's vectors
        assert a._core.store.count_vectors("jane", "fact") == 1
        assert [r.fact.fact for r in a.graph.search(user_id="jane", query="Oslo") if r.fact]


def test_a_home_less_config_with_a_chroma_server_is_refused_with_what_to_do_instead() -> None:
    config = MemoryConfig(home=None, chroma_host="127.0.0.1", chroma_port=1)  # refused before connecting
    with pytest.raises(ConfigError, match="home") as refused:
        Memory(config=config, embedder=HashEmbedder(), extractor=TripleExtractor())
    assert "PostgreSQL" in str(refused.value)
    eph = Memory.ephemeral(config=config, embedder=HashEmbedder(), extractor=TripleExtractor())
    with eph:  # an ephemeral memory stays in process, whatever the config says about a server
        eph.user.add(user_id="jane")
        assert isinstance(eph._core.store.index, ExactIndex)  # type: ignore[attr-defined]
