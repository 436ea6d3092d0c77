"""A reader's latency while another user ingests: does a read wait for someone else's embedding?

    python -m benchmarks.read_latency                  # real MiniLM, embedded home, 20 s of ingest
    python -m benchmarks.read_latency --seconds 40

User ``reader`` has a small graph. A background thread adds 64-message batches for user ``writer``
(extraction, embedding with the real model, vector upserts) without pause; meanwhile the main
thread times ``user.get`` and ``graph.episodes`` for ``reader`` (no model involved) and
``graph.search`` (which embeds its query with the same model). Each is timed idle first, then
under the writer's load. Latencies are wall-clock (what a caller waits); the machine's load is
printed, since other processes inflate both columns alike. Before the outbox, embedding and the
Chroma upsert ran inside the writer's SQL transaction and a ``user.get`` waited up to 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent_memory import Memory, MemoryConfig, Message


def _timed(fn: Callable[[], object], until: float, pause: float = 0.02) -> list[float]:
    out = []
    while time.monotonic() < until:
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
        time.sleep(pause)
    return out


def _row(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"{name:28s} n={len(ms):5d}  p50 {statistics.median(ms):8.2f} ms  p99 {p99:8.2f} ms  max {ms[-1]:8.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="of measurement, idle and under load each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="am-latency-") as tmp, \
            Memory(config=MemoryConfig(home=Path(tmp) / "home")) as mem:
        for user in ("reader", "writer"):
            mem.user.add(user_id=user, first_name=user.title())
            mem.thread.create(thread_id=f"{user}-t", user_id=user)
        mem.thread.add_messages("reader-t", messages=[
            Message(role="user", content=f"I moved to Lisbon in {2000 + i} and bought a bike") for i in range(20)])
        reads: dict[str, Callable[[], object]] = {
            "user.get": lambda: mem.user.get("reader"),
            "graph.episodes": lambda: mem.graph.episodes(user_id="reader", limit=20),
            "graph.search (embeds query)": lambda: mem.graph.search(user_id="reader", query="Where do I live?"),
        }
        print(f"machine load (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for name, fn in reads.items():
            print(_row(f"idle   {name}", _timed(fn, time.monotonic() + args.seconds / len(reads))))
        stop = threading.Event()
        batches = [0]

        def write() -> None:
            i = 0
            while not stop.is_set():
                mem.thread.add_messages("writer-t", messages=[
                    Message(role="user", content=f"Day {i}.{j}: I went hiking near Sintra with my sister Ana.")
                    for j in range(64)])
                batches[0] += 1
                i += 1

        writer = threading.Thread(target=write, daemon=True)
        cpu = time.process_time()
        writer.start()
        time.sleep(1.0)
        for name, fn in reads.items():
            print(_row(f"loaded {name}", _timed(fn, time.monotonic() + args.seconds / len(reads))))
        stop.set()
        writer.join()
        print(f"writer: {batches[0]} batches of 64 messages; process CPU {time.process_time() - cpu:.1f} s; "
              f"machine load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
