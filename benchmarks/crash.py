"""Kill -9 an ingesting process at random moments, reopen, and count records left without a vector;
and what opening a home costs after a clean close versus after a crash.

    python -m benchmarks.crash                 # 20 rounds, embedded home (SQLite + embedded Chroma)
    python -m benchmarks.crash --rounds 50 --seed 3
    python -m benchmarks.crash --open-cost 200 # CPU-ms to open a home of 200 users, clean vs crashed

Each round starts a process that adds messages for two users in a loop (``agent_memory.testing.crash``:
real SQLite and embedded Chroma; a hash embedder and the triple extractor, so the round is about
storage, not models), kills it with SIGKILL after a random 0.05-1.0 s, then opens the home again
(reconcile + drain) and counts, per kind, records that have no vector (pending episodes excepted:
they are embedded when processed). Before the outbox, 8 entities in 36 rounds were left without a
vector forever.
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

from agent_memory import Message
from agent_memory.storage.embedded import CLEAN_FILE
from agent_memory.testing.crash import ingest_forever, open_memory, records_without_vectors


def lacking(home: Path) -> tuple[dict[str, int], int, int]:
    """(records without a vector per kind, records checked, what reconcile repaired) after reopening."""
    with open_memory(home) as mem:
        missing, checked = records_without_vectors(mem)
        return missing, checked, mem.reconciled.repaired


def kill_rounds(rounds: int, seed: int) -> None:
    """The kill -9 loop; prints one line per round and the total."""
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with tempfile.TemporaryDirectory(prefix="am-crash-") as tmp:
        home = Path(tmp) / "home"
        total: dict[str, int] = {}
        for n in range(1, rounds + 1):
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
        print(f"{rounds} kill -9 rounds: records left without a vector: {sum(total.values())} {total or ''}")


def open_cost(users: int, repeats: int = 3) -> None:
    """CPU-ms (this process) to open and close a home of ``users`` users: after a clean close (the
    reconcile is skipped) and as after a crash (the clean-close token removed: full reconcile)."""
    with tempfile.TemporaryDirectory(prefix="am-open-") as tmp:
        home = Path(tmp) / "home"
        with open_memory(home) as mem:
            for u in range(users):
                mem.user.add(user_id=f"user{u}")
                mem.thread.create(thread_id=f"t{u}", user_id=f"user{u}")
                mem.thread.add_messages(f"t{u}", messages=[
                    Message(role="user", content=f"I | LIKES | thing{u}"),
                    Message(role="user", content=f"I | LIVES_IN | town{u % 17}")])
        for label, crashed in (("after a clean close", False), ("after a crash (full reconcile)", True)):
            spent = []
            for _ in range(repeats):
                if crashed:
                    (home / "chroma" / CLEAN_FILE).unlink(missing_ok=True)
                start = time.process_time()
                with open_memory(home) as mem:
                    assert mem.reconciled.full is crashed
                spent.append((time.process_time() - start) * 1000)
            print(f"open + close, {users} users, {label}: {min(spent):.0f} CPU-ms (min of {repeats}; "
                  f"all {', '.join(f'{s:.0f}' for s in spent)})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--open-cost", type=int, metavar="USERS", help="measure opening a home of USERS users")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        ingest_forever(args.child)
    elif args.open_cost:
        open_cost(args.open_cost)
    else:
        kill_rounds(args.rounds, args.seed)


if __name__ == "__main__":
    main()
