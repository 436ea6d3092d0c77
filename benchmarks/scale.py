"""Speed and scale of the embedded default: ingestion throughput, read latency, memory, disk.

One scenario = one fresh child process (so its peak memory is its own) with a fresh home
directory, built with the real defaults: ``Memory(home)`` = SQLite + embedded Chroma + the MiniLM
embedder + the offline extractor, inline ingestion. It:

1. ingests ``episodes`` chat messages per user for ``users`` users, as threads of 20 messages,
   one ``thread.add_messages`` call per thread (texts: real chat turns from the dev sets,
   cycled when more are needed), and times it -> messages/s;
2. asks ``queries`` questions (after ``warmup`` unmeasured ones), each the latest message of a
   new thread of a user picked in turn, and times ``thread.get_user_context`` alone
   (default template and budget) -> p50/p95 ms;
3. measures disk (``du`` of the home) and the process's peak resident memory
   (``resource.getrusage(RUSAGE_SELF).ru_maxrss``: the whole process, models included).

Run one scenario: ``python -m benchmarks.scale --episodes 10000 [--users 1] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .data import default_paths, load_locomo, load_longmemeval
from .metrics import percentile

__all__ = ["disk_bytes", "run_in_subprocess", "run_scenario", "text_pool"]

THREAD_SIZE = 20


def text_pool(paths: dict[str, Path] | None = None, max_chars: int = 600) -> tuple[list[tuple[str, str]], list[str]]:
    """(speaker, text) chat turns and questions from the dev sets, in a fixed shuffled order."""
    paths = paths or default_paths()
    turns: list[tuple[str, str]] = []
    questions: list[str] = []
    if paths["locomo"].exists():
        for h in load_locomo(paths["locomo"]):
            turns += [(t.speaker or "user", t.text) for t in h.turns]
            questions += [q.text for q in h.questions]
    if paths["longmemeval"].exists():
        for h in load_longmemeval(paths["longmemeval"]):
            turns += [("user", t.text) for t in h.turns if t.role == "user" and len(t.text) <= max_chars]
            questions += [q.text for q in h.questions]
    if not turns:
        raise SystemExit("no dev data found: pass --locomo/--longmemeval or put the data in ../shared/data")
    rng = random.Random(7)
    rng.shuffle(turns)
    rng.shuffle(questions)
    return list(dict.fromkeys(turns)), questions


def disk_bytes(path: str | Path) -> int:
    """Bytes the files under ``path`` occupy (allocated blocks, like ``du``)."""
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                st = os.stat(os.path.join(root, f))
            except FileNotFoundError:
                continue
            total += getattr(st, "st_blocks", 0) * 512 or st.st_size
    return total


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def run_scenario(episodes: int, users: int = 1, queries: int = 200, warmup: int = 10,
                 home: str | None = None, log: Any = print, reads_only: bool = False) -> dict[str, Any]:
    """Ingest ``episodes`` messages per user for ``users`` users, then time reads. In this process.

    ``reads_only``: ``home`` already holds this scenario (an earlier run with ``--home``): only time reads.
    """
    from agent_memory import Memory, Message

    turns, questions = text_pool()
    owned = home is None
    home = home or tempfile.mkdtemp(prefix="am-scale-")
    rss_start = _peak_rss_mb()
    memory = Memory(home)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    try:
        t0 = time.perf_counter()
        sent = 0
        last_log = t0
        per_thread = THREAD_SIZE
        for u in range(0 if reads_only else users):
            uid = f"user-{u:05d}"
            memory.user.add(user_id=uid, first_name=f"User{u}")
            for t in range(0, episodes, per_thread):
                tid = f"{uid}-t{t // per_thread:06d}"
                memory.thread.create(thread_id=tid, user_id=uid)
                n = min(per_thread, episodes - t)
                when = start + timedelta(hours=t // per_thread)
                batch = []
                for i in range(n):
                    speaker, text = turns[(u * episodes + t + i) % len(turns)]
                    batch.append(Message(role="user", name=speaker, content=text,
                                         created_at=when + timedelta(seconds=i)))
                memory.thread.add_messages(tid, messages=batch)
                sent += n
                if log and time.perf_counter() - last_log > 30:
                    last_log = time.perf_counter()
                    log(f"    ingested {sent:,}/{episodes * users:,} ({sent / (last_log - t0):.0f} msg/s)")
        ingest_s = time.perf_counter() - t0
        rss_after_ingest = _peak_rss_mb()

        lat: list[float] = []
        cpu: list[float] = []
        rng = random.Random(11)
        run = f"{time.time_ns():x}" if reads_only else ""  # fresh thread ids on every reads-only run
        for q in range(warmup + queries):
            uid = f"user-{rng.randrange(users):05d}"
            tid = f"{uid}-q{run}{q:05d}"
            memory.thread.create(thread_id=tid, user_id=uid)
            memory.thread.add_messages(tid, messages=[Message(role="user", name="asker",
                                                              content=questions[q % len(questions)])])
            t1, c1 = time.perf_counter(), time.process_time()
            ctx = memory.thread.get_user_context(tid)
            ms = (time.perf_counter() - t1) * 1000
            if q >= warmup:
                lat.append(ms)
                cpu.append((time.process_time() - c1) * 1000)
            assert ctx.context
        memory.close()
        memory = None
        disk = disk_bytes(home)
    finally:
        if memory is not None:
            memory.close()
        if owned:
            shutil.rmtree(home, ignore_errors=True)
    total = episodes * users
    return {
        "episodes_per_user": episodes, "users": users, "episodes_total": total,
        "ingest_seconds": round(ingest_s, 2),
        "ingest_messages_per_s": None if reads_only else round(total / ingest_s, 1),
        "get_user_context_ms": {"p50": round(percentile(lat, 50), 2), "p95": round(percentile(lat, 95), 2),
                                "mean": round(sum(lat) / len(lat), 2), "n": len(lat)},
        # CPU time of the process per call: what the read costs when other work shares the cores
        "get_user_context_cpu_ms": {"p50": round(percentile(cpu, 50), 2), "p95": round(percentile(cpu, 95), 2)},
        "peak_rss_mb": round(_peak_rss_mb(), 1), "rss_before_mb": round(rss_start, 1),
        "peak_rss_after_ingest_mb": round(rss_after_ingest, 1),
        "disk_mb": round(disk / 2**20, 2), "disk_mb_per_10k_episodes": round(disk / 2**20 * 10_000 / total, 2),
    }


def run_in_subprocess(episodes: int, users: int = 1, queries: int = 200, timeout: float | None = None,
                      log: Any = print) -> dict[str, Any]:
    """One scenario in a fresh interpreter, so peak memory and caches are its own."""
    with tempfile.TemporaryDirectory(prefix="am-scale-out-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "benchmarks.scale", "--episodes", str(episodes), "--users", str(users),
               "--queries", str(queries), "--json", str(out)]
        root = Path(__file__).resolve().parents[1]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=root, env=env, timeout=timeout, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"scale scenario failed ({' '.join(cmd)}):\n{proc.stdout[-4000:]}")
        for line in proc.stdout.splitlines():
            if line.strip() and log:
                log(line)
        result = json.loads(out.read_text())
        result["wall_seconds"] = round(time.perf_counter() - t0, 1)
        return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=1000, help="messages per user")
    parser.add_argument("--users", type=int, default=1)
    parser.add_argument("--queries", type=int, default=200, help="timed get_user_context calls (after 10 warm-up)")
    parser.add_argument("--home", help="keep the memory in this directory (default: a temp dir, removed)")
    parser.add_argument("--json", help="write the result here")
    parser.add_argument("--reads-only", action="store_true",
                        help="--home already holds this scenario from an earlier run: only time reads")
    args = parser.parse_args(argv)
    if args.reads_only and not args.home:
        parser.error("--reads-only needs --home")
    result = run_scenario(args.episodes, args.users, args.queries, home=args.home,
                          log=lambda m: print(m, flush=True), reads_only=args.reads_only)
    text = json.dumps(result, indent=2)
    if args.json:
        Path(args.json).write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
