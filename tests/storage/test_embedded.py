"""The embedded home (SQLite + embedded Chroma): one owner process, safe first open, crash repair,
and delete-means-gone down to the bytes of Chroma's own files."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from agent_memory import Memory, MemoryConfig, Message
from agent_memory.errors import MemoryInUseError
from agent_memory.storage.base import KINDS
from agent_memory.testing import crash
from agent_memory.testing.extractors import TripleExtractor
from agent_memory.testing.fakes import HashEmbedder

CHILD = str(Path(__file__).with_name("_child.py"))


def child(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.Popen([sys.executable, CHILD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


class DenseEmbedder(HashEmbedder):
    """HashEmbedder turned by a fixed rotation: dense vectors, so a byte scan cannot match by chance
    (sparse vectors are mostly zeros, which occur anywhere in a binary file)."""

    name = "hash-dense"
    _turn = np.linalg.qr(np.random.default_rng(0).standard_normal((64, 64)))[0].astype(np.float32)

    def embed_batch(self, texts):  # type: ignore[no-untyped-def]
        return np.asarray(super().embed_batch(texts), dtype=np.float32) @ self._turn


def open_home(home: str | Path, *, dense: bool = False, **config: object) -> Memory:
    return Memory(config=MemoryConfig(home=Path(home), **config),  # type: ignore[arg-type]
                  embedder=DenseEmbedder() if dense else HashEmbedder(), extractor=TripleExtractor())


def test_a_second_process_cannot_open_an_owned_home_and_is_told_how_to_share(tmp_path: Path) -> None:
    with open_home(tmp_path / "home") as mem:
        mem.user.add(user_id="jane")
        proc = child("open", str(tmp_path / "home"))
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.startswith("MemoryInUseError"), out
        assert "Chroma server" in out and "PostgreSQL" in out
        with pytest.raises(MemoryInUseError):  # a second Memory in this process too
            open_home(tmp_path / "home")
    with open_home(tmp_path / "home") as again:  # closing released it
        assert [u.user_id for u in again.user.list()] == ["jane"]


def test_several_processes_opening_a_fresh_home_at_once_never_fail_on_migrations(tmp_path: Path) -> None:
    home = str(tmp_path / "fresh")
    procs = [child("open", home, "0.3") for _ in range(4)]
    results = [p.communicate(timeout=180)[0].split(" ")[0].strip() for p in procs]
    assert set(results) <= {"ok", "MemoryInUseError"}, results
    assert "ok" in results
    with open_home(home) as mem:  # the schema is whole
        mem.user.add(user_id="jane")


def test_several_processes_migrating_one_fresh_database_at_once_all_succeed(tmp_path: Path) -> None:
    """The SQLite schema alone (no home lock): the version is re-read inside BEGIN IMMEDIATE."""
    db = str(tmp_path / "memory.db")
    procs = [child("migrate", db) for _ in range(6)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [o.strip() for o, _ in outs] == ["ok"] * 6, [e[-300:] for _, e in outs]


def records_without_vectors(home: Path) -> dict[str, int]:
    """Per kind, records of the home that have no vector (after open + reconcile + drain)."""
    with open_home(home) as mem:
        assert mem.reconciled.full  # the owner was killed: this open compared everything
        return crash.records_without_vectors(mem)[0]


def kill_rounds(home: Path, rounds: int, seed: int = 7) -> list[dict[str, int]]:
    """Kill -9 an ingesting process at a random moment, ``rounds`` times; the repair after each."""
    rng = random.Random(seed)
    found = []
    for _ in range(rounds):
        proc = child("ingest", str(home))
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        found.append(records_without_vectors(home))
    return found


def test_kill_9_mid_ingest_then_open_leaves_no_record_without_a_vector(tmp_path: Path) -> None:
    assert kill_rounds(tmp_path / "home", rounds=3) == [{}, {}, {}]
    with open_home(tmp_path / "home") as mem:
        assert mem.graph.episodes(user_id="jane", limit=1)  # something was acknowledged and kept


def test_a_clean_close_spares_the_next_open_its_reconcile_and_a_kill_does_not(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with open_home(home) as mem:
        assert mem.reconciled.full  # a new home has no clean close yet
        mem.user.add(user_id="jane")
        mem.thread.create(thread_id="t", user_id="jane")
        mem.thread.add_messages("t", messages=[Message(role="user", content="I | LIVES_IN | Oslo")])
    for _ in range(2):
        with open_home(home) as mem:
            assert not mem.reconciled.full
            assert any(r.fact for r in mem.graph.search(user_id="jane", query="Oslo"))
    assert kill_rounds(home, rounds=1) == [{}]  # killed: the open after it compares (asserted inside)
    with open_home(home) as mem:  # which closed cleanly again
        assert not mem.reconciled.full


def test_vectors_restored_from_another_time_than_the_records_are_reconciled(tmp_path: Path) -> None:
    """Both halves of a home carry the token of the close that wrote them; a mismatch means reconcile."""
    home = tmp_path / "home"
    with open_home(home) as mem:
        mem.user.add(user_id="jane")
        for thread in ("old", "new"):
            mem.thread.create(thread_id=thread, user_id="jane")
        mem.thread.add_messages("old", messages=[Message(role="user", content="I | LIKES | kayaks")])
    shutil.copytree(home / "chroma", tmp_path / "chroma-backup")  # a backup of the vectors alone
    with open_home(home) as mem:
        mem.thread.add_messages("new", messages=[Message(role="user", content="I | LIVES_IN | Oslo")])
        mem.thread.delete("old")
        fact = next(f.uuid for f in mem.graph.facts(user_id="jane") if "Oslo" in f.fact)
    shutil.rmtree(home / "chroma")
    shutil.copytree(tmp_path / "chroma-backup", home / "chroma")  # ...restored over newer records
    with open_home(home) as again:
        assert again.reconciled.full
        assert again.reconciled.queued.get("fact") == 1  # the Oslo fact's vector was not in the backup
        assert again.reconciled.removed.get("episode") == 1  # the deleted thread's episode came back
        assert fact in [r.fact.uuid for r in again.graph.search(user_id="jane", query="Oslo") if r.fact]


# -- delete means gone ---------------------------------------------------------------------------

@pytest.fixture
def chdir_tmp(tmp_path: Path) -> Iterator[Path]:
    before = os.getcwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(before)


def user_traces(mem: Memory, user_id: str) -> dict[str, list[bytes]]:
    """Everything of a user that must not survive deletion, as bytes to look for."""
    core = mem._core
    store, index = core.store, core.store.index  # type: ignore[attr-defined]
    from agent_memory.storage.sqlite_base import ukey
    from agent_memory.storage.vectors import collection_name

    ids: list[str] = []
    vectors: list[bytes] = []
    for kind in KINDS:
        kind_ids = store.record_ids(user_id, kind)  # type: ignore[attr-defined]
        ids += kind_ids
        _, handle = index._collection(user_id, kind, create=False)
        if handle is not None and kind_ids:
            got = handle.get(ids=kind_ids, include=["embeddings"])
            for v in got["embeddings"]:
                raw = np.asarray(v, dtype=np.float32)
                vectors += [raw.tobytes(), (raw / np.linalg.norm(raw)).astype(np.float32).tobytes()]
    texts = [e.content.encode() for e in mem.graph.episodes(user_id=user_id, limit=1000)]
    hashes = [ukey(user_id).encode(), collection_name(user_id, "fact").split("_")[1].encode()]
    return {"text": texts, "ids": [i.encode() for i in ids], "hashes": hashes, "vectors": vectors}


def scan(home: Path, traces: dict[str, list[bytes]]) -> dict[str, list[str]]:
    """Which files under ``home`` still hold any trace, by kind of trace."""
    found: dict[str, list[str]] = {}
    for path in home.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        for kind, needles in traces.items():
            if any(n and n in data for n in needles):
                found.setdefault(kind, []).append(str(path.relative_to(home)))
    return found


@pytest.mark.parametrize("relative", [False, True], ids=["absolute-home", "relative-home"])
def test_delete_user_leaves_no_byte_of_theirs_anywhere_under_the_home(chdir_tmp: Path, relative: bool) -> None:
    home = Path("home") if relative else chdir_tmp / "home"
    with open_home(home, dense=True) as mem:
        for user, word in (("jane", "kayak"), ("bob", "violin")):
            mem.user.add(user_id=user, first_name=user.title())
            mem.thread.create(thread_id=f"{user}-t", user_id=user)
            for i in range(0, 300, 100):  # past Chroma's batch size: it writes HNSW segment files
                mem.thread.add_messages(f"{user}-t", messages=[
                    Message(role="user", content=f"I | LIKES | {word}{j}zq") for j in range(i, i + 100)])
        jane = user_traces(mem, "jane")
        bob = user_traces(mem, "bob")
        jane["vectors"] = [v for v in jane["vectors"] if v not in set(bob["vectors"])]  # same text, same vector
        assert all(jane.values()) and set(scan(home, jane)) == {"text", "ids", "hashes", "vectors"}  # seen before
        assert [d for d in (home / "chroma").iterdir() if d.is_dir()]  # HNSW segment directories exist
        mem.user.delete("jane")
        left_open = scan(home, jane)
        assert scan(home, {"ids": bob["ids"][:50]}) != {}  # bob's data is still there
        assert len(mem.graph.search(user_id="bob", query="violin5zq", scope="episodes")) > 0
    assert left_open == {}  # while the memory is open...
    assert scan(home, jane) == {}  # ...and after it closed
