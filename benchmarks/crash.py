"""Kill -9 an ingesting process at random moments, reopen, and count records left without a vector.

    python -m benchmarks.crash                 # 20 rounds, embedded home (SQLite + embedded Chroma)
    python -m benchmarks.crash --rounds 50 --seed 3

Each round starts a process that adds messages for two users in a loop (real SQLite and embedded
Chroma; a hash embedder and the triple extractor, so the round is about storage, not models), kills
it with SIGKILL after a random 0.05-1.0 s, then opens the home again (reconcile + drain) and counts,
per kind, records that have no vector (pending episodes excepted: they are embedded when processed).
Before the outbox, 8 entities in 36 rounds were left without a vector forever.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent_memory import Memory, MemoryConfig, Message
from agent_memory.errors import AgentMemoryError
from agent_memory.storage.base import KINDS
from agent_memory.testing.extractors import TripleExtractor
from agent_memory.testing.fakes import HashEmbedder


def _open(home: Path) -> Memory:
    return Memory(config=MemoryConfig(home=home), embedder=HashEmbedder(), extractor=TripleExtractor())


def _child(home: Path) -> None:
    mem = _open(home)
    for user in ("jane", "bob"):
        try:
            mem.user.add(user_id=user, first_name=user.title())
            mem.thread.create(thread_id=f"{user}-t", user_id=user)
        except AgentMemoryError:
            pass
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        user = ("jane", "bob")[i % 2]
        mem.thread.add_messages(f"{user}-t", messages=[
            Message(role="user", content=f"I | LIKES | thing{i}"), Message(role="assistant", content=f"Noted {i}")])


def lacking(home: Path) -> tuple[dict[str, int], int, int]:
    """(records without a vector per kind, records checked, what reconcile repaired) after reopening."""
    with _open(home) as mem:
        store = mem._core.store
        missing: dict[str, int] = {}
        checked = 0
        for user in [u.user_id for u in mem.user.list()]:
            pending = {e.uuid for e in mem.graph.episodes(user_id=user, status="pending", limit=1_000_000)}
            for kind in KINDS:
                records = set(store.record_ids(user, kind)) - (pending if kind == "episode" else set())  # type: ignore[attr-defined]
                checked += len(records)
                gone = records - set(store.index.ids(user, kind))  # type: ignore[attr-defined]
                if gone:
                    missing[kind] = missing.get(kind, 0) + len(gone)
        return missing, checked, mem.reconciled.repaired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    rng = random.Random(args.seed)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with tempfile.TemporaryDirectory(prefix="am-crash-") as tmp:
        home = Path(tmp) / "home"
        total: dict[str, int] = {}
        for n in range(1, args.rounds + 1):
            proc = subprocess.Popen([sys.executable, "-m", "benchmarks.crash", "--child", str(home)],
                                    stdout=subprocess.PIPE, text=True, env=env)
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.05, 1.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            missing, checked, repaired = lacking(home)
            for k, v in missing.items():
                total[k] = total.get(k, 0) + v
            print(f"round {n:3d}: {checked:6d} records checked, without a vector: {missing or 0}, "
                  f"reconcile repaired {repaired}", flush=True)
        print(f"{args.rounds} kill -9 rounds: records left without a vector: {sum(total.values())} {total or ''}")


if __name__ == "__main__":
    main()
