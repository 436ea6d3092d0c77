"""Reads while another thread of the same process runs Python: what an agent server's event loop does.

    python -m benchmarks.busy_reads --home <a memory built by benchmarks.scale>     # e.g. its 10k home
    python -m benchmarks.busy_reads --home <home> --queries 60

An async server (LangGraph's, a FastAPI app) runs ``AsyncMemory`` reads on a worker thread while its
event loop thread runs the other requests' Python. A read's own threads give up the GIL for native work
(SQLite, Chroma, the model) and must win it back from that busy thread, which holds it up to Python's
switch interval (5 ms) each time: a read that gives it up a few hundred times waits seconds. The same
questions are timed alone, then beside one thread that only runs Python, one ``build_context`` at a
time; wall-clock milliseconds, and the machine's load (other processes inflate both columns alike).
"""

from __future__ import annotations

import argparse
import os
import threading
import time

from agent_memory import Memory

from .scale import text_pool


def _reads(memory: Memory, user_id: str, questions: list[str]) -> list[float]:
    out = []
    for q in questions:
        start = time.perf_counter()
        memory._core.build_context(user_id, q)
        out.append((time.perf_counter() - start) * 1000)
    return sorted(out)


def _busy(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(range(2000))  # pure Python, never waits


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", required=True, help="an existing memory (e.g. benchmarks.scale --home's)")
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args(argv)
    _, questions = text_pool()
    with Memory(args.home) as memory:
        user_id = memory._core.store.list_users(limit=1)[0].user_id
        _reads(memory, user_id, questions[300:310])  # warm-up: models loaded, caches as in use
        asked = questions[: args.queries]
        alone = _reads(memory, user_id, asked)
        stop = threading.Event()
        thread = threading.Thread(target=_busy, args=(stop,), daemon=True)
        thread.start()
        try:
            beside = _reads(memory, user_id, asked)
        finally:
            stop.set()
            thread.join()
    n = len(asked)
    for name, ms in (("alone", alone), ("beside a busy Python thread", beside)):
        print(f"{name:>28}: p50 {ms[n // 2]:7.1f} ms  p95 {ms[min(n - 1, int(n * 0.95))]:7.1f} ms  (n={n})")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
