"""One memory shared by many processes on PostgreSQL: the proof.

Four writer processes add 200 messages each for the same user at the same time (inline ingestion,
so each call returns only once its messages are processed), a fifth writer is killed with SIGKILL
in the middle of a batch while it holds the user's ingestion claim, and a reader process that
opened its Memory before anything was written watches and then looks everything up. Every
acknowledged message must be stored once, processed once, and findable by full text and by vector
from every process, with no restart. The subprocesses use the deterministic HashEmbedder and
TripleExtractor (agent_memory.testing) to keep CI time sane; ``test_real_defaults_share_one_memory``
is the small variant with the real MiniLM embedder and spaCy extractor.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_memory import Memory
from agent_memory.testing.extractors import TripleExtractor
from agent_memory.testing.fakes import HashEmbedder

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("sharing_worker.py")


@pytest.fixture
def database(postgres_server: str) -> str:
    from agent_memory.testing.postgres_server import create_database

    return create_database(postgres_server)


def _spawn(role: str, url: str, work: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "integrations"),
                                                       os.environ.get("PYTHONPATH", "")]))
    path = work / f"log-{role}-{extra[1] if len(extra) > 1 else role}.txt"
    with path.open("wb") as log:  # the child keeps its own handle
        return subprocess.Popen([sys.executable, str(WORKER), role, "--url", url, "--work", str(work), *extra,
                                 "--log", str(path)], env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait(path: Path, procs: list[subprocess.Popen[bytes]], work: Path, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        for p in procs:
            if p.poll() not in (None, 0):
                log = Path(str(p.args[-1]))  # type: ignore[index]
                raise AssertionError(f"a worker failed (exit {p.returncode}) before {path.name}:\n"
                                     + "\n".join(log.read_text().splitlines()[-12:]))
        assert time.monotonic() < deadline, f"timed out waiting for {path.name}"
        time.sleep(0.2)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:  # only ours, by pid
        if p.poll() is None:
            p.kill()
            p.wait(10)


def _run(url: str, work: Path, processes: list[subprocess.Popen[bytes]], writers: int, count: int,
         victim: bool, real: bool) -> dict[str, dict]:  # type: ignore[type-arg]
    flags = ["--real"] if real else []
    reader = _spawn("reader", url, work, *flags)
    processes.append(reader)
    _wait(work / "reader-ready", processes, work)
    names = [f"w{n}" for n in range(writers)]
    for name in names:
        processes.append(_spawn("writer", url, work, "--name", name, "--count", str(count), *flags))
    if victim:
        doomed = _spawn("victim", url, work, "--name", "victim", "--count", str(count), *flags)
        processes.append(doomed)
        _wait(work / "victim-holds-claim", processes, work)
        os.kill(doomed.pid, signal.SIGKILL)  # mid-batch, holding the user's claim
        doomed.wait(30)
        processes.remove(doomed)
    for name in names:
        _wait(work / f"done-{name}", processes, work)
    return {"names": names}  # type: ignore[dict-item]


def _check(url: str, work: Path, processes: list[subprocess.Popen[bytes]], names: list[str], count: int,
           victim: bool, memory: Memory, one_fact_each: bool = True) -> None:
    from sharing_worker import USER, acked  # type: ignore[import-not-found]

    memory.wait_until_processed(USER)  # another worker picks up what the killed one left
    store = memory._core.store
    (work / "verify").write_text("go")
    for who in ["reader", *names]:
        _wait(work / f"result-{who}.json", processes, work)
    acks = acked(work)
    by_writer = {n: sum(1 for w, _ in acks.values() if w == n) for n in names}
    assert by_writer == {n: count for n in names}
    if victim:
        assert 0 < sum(1 for w, _ in acks.values() if w == "victim") < count  # killed part-way
    # stored once: every acknowledged id, and no message twice
    rows = store._all("SELECT uuid, content, status, attempts FROM episodes WHERE user_id=%s", (USER,))
    stored = {r["uuid"]: r for r in rows}
    assert set(acks) <= set(stored)
    assert len({r["content"] for r in rows}) == len(rows)
    # processed once: each episode processed in exactly one committed run, with exactly its own fact
    assert {r["status"] for r in rows} == {"processed"}
    assert {r["attempts"] for r in rows} == {1}
    if one_fact_each:  # the triple extractor states one fact per message: a second run would show
        provenance = store.facts_of_episodes(USER, list(stored))
        assert all(len(provenance.get(uid, [])) == 1 for uid in stored)
        assert store.count_facts(USER) == len(rows)
    assert store.count_vectors(USER, "episode") == len(rows) and store.vector_tasks(user_id=USER) == []
    # findable from every process, none restarted
    for who in ["reader", *names]:
        result = json.loads((work / f"result-{who}.json").read_text())
        assert result["checked"] >= (len(acks) if who == "reader" else 1)
        assert result["missing"] == {"text": [], "vector": [], "search": []}, who
    seen = json.loads((work / "result-reader.json").read_text())["seen_processed_counts"]
    # the reader watched the count grow: none before the writers, some between, all at the end
    assert seen[0] == 0 and seen[-1] == len(rows) and len(seen) >= 3, seen


def test_four_writers_a_killed_one_and_a_reader_share_one_memory(database: str, tmp_path: Path,
                                                                 processes: list) -> None:  # type: ignore[type-arg]
    sys.path.insert(0, str(WORKER.parent))
    memory = Memory(database, embedder=HashEmbedder(256), extractor=TripleExtractor(),
                    json_extractor=TripleExtractor())
    try:
        memory.user.add(user_id="shared", first_name="Sam")
        names = _run(database, tmp_path, processes, writers=4, count=200, victim=True, real=False)["names"]
        _check(database, tmp_path, processes, names, 200, True, memory)  # type: ignore[arg-type]
    finally:
        memory.close()
        sys.path.remove(str(WORKER.parent))


def test_real_defaults_share_one_memory(database: str, tmp_path: Path, processes: list,  # type: ignore[type-arg]
                                        real_embedder: object, real_extractor: object) -> None:
    sys.path.insert(0, str(WORKER.parent))
    memory = Memory(database, embedder=real_embedder, extractor=real_extractor)  # type: ignore[arg-type]
    try:
        memory.user.add(user_id="shared", first_name="Sam")
        names = _run(database, tmp_path, processes, writers=2, count=20, victim=False, real=True)["names"]
        _check(database, tmp_path, processes, names, 20, False, memory, one_fact_each=False)  # type: ignore[arg-type]
    finally:
        memory.close()
        sys.path.remove(str(WORKER.parent))
