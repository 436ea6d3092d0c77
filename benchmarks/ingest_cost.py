"""Where ingestion's CPU goes: CPU-ms per message by component, next to messages/s.

    python -m benchmarks.ingest_cost [--n 2000] [--embedder default|fp32] [--threads N] [--no-text-cache]
                                     [--no-background]

Feeds the first ``n`` real LoCoMo turns (one memory user per conversation, one thread per session,
``add_messages`` of up to 20 turns, speaker names kept) to ``Memory(home)`` with its defaults: SQLite,
embedded Chroma, the MiniLM embedder, the offline spaCy extractor, inline ingestion. Two passes over
fresh homes, models loaded beforehand (dateparser's patterns too; spaCy's lemma cache emptied: each pass starts
as a fresh process):

1. throughput: the pipeline as shipped (episode vectors on a second thread while the extractor runs);
   process CPU time (``time.process_time``: every thread, onnxruntime's and Chroma's included) per
   message, and wall-clock messages/s. CPU time is repeatable on a shared machine; wall time is not:
   with other work running, read msg/s as a lower bound and ``1000 / CPU-ms`` as what one free core gives.
   Then the same through the background worker (``ingest_mode="background"``): ``add_messages``
   returns at once, the worker takes the pile-up in batches (128 offline) and overlaps them (the next
   batch's episode vectors on the second thread while the current one is indexed, the first thread
   running some of their model runs when it would wait); timed until ``wait_until_processed`` returns.
   Both passes print "cores used" (process CPU over wall: 2.0 is both cores busy) and each thread's
   busy time per stage, wall and that thread's CPU (``benchmarks/_stages.py``): wall minus CPU is time
   a thread waited (for the GIL, for Chroma's own threads, for a core).
2. breakdown: the same messages with the second thread made synchronous, so that each call's process
   CPU time is its own. Metered: the embedder by call site (texts that actually reach the model, after
   the embed-once cache), the extractor, the vector index (Chroma, its own threads included while it is
   called) and the SQL store (its own time, without the vector index it calls; transactions' commits
   included); "other" is the rest (Python glue, the text cache, validation ...).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import timedelta
from pathlib import Path
from typing import Any

from ._stages import Stages
from .data import default_paths, load_locomo

__all__ = ["Meter", "load_turns", "main", "run"]

THREAD_SIZE = 20
_EMBEDDING_MODULES = ("agent_memory.embedding", "benchmarks.ingest_cost")
_HELPERS = frozenset({"_embed", "embed"})  # thin wrappers: the call site is their caller


def load_turns(n: int, path: Path | None = None) -> list[tuple[int, str, Any, list[Any]]]:
    """(conversation index, session id, session date, turns) for the first ``n`` turns, in order."""
    path = path or default_paths()["locomo"]
    if not path.exists():
        raise SystemExit(f"no LoCoMo data at {path}: pass --locomo")
    out: list[tuple[int, str, Any, list[Any]]] = []
    left = n
    for c, history in enumerate(load_locomo(path)):
        for session in history.sessions:
            if left <= 0:
                return out
            turns = session.turns[:left]
            out.append((c, session.sid, session.date, turns))
            left -= len(turns)
    return out


class Meter:
    """Process CPU time of metered calls, by label. A metered call made inside another counts for its
    own label and is taken out of the caller's (the store's ``write_vectors`` calls the vector index)."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.texts: dict[str, int] = defaultdict(int)
        self._local = threading.local()

    @contextlib.contextmanager
    def measure(self, label: str, texts: int = 0) -> Iterator[None]:
        stack: list[float] = self._local.__dict__.setdefault("stack", [])
        stack.append(0.0)  # CPU time of metered calls nested in this one
        start = time.process_time()
        try:
            yield
        finally:
            elapsed = time.process_time() - start
            nested = stack.pop()
            if stack:
                stack[-1] += elapsed
            self.cpu[label] += elapsed - nested
            self.calls[label] += 1
            self.texts[label] += texts

    def wrap(self, fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        def metered(*args: Any, **kwargs: Any) -> Any:
            with self.measure(label):
                return fn(*args, **kwargs)
        return metered

    def wrap_transaction(self, fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        """A context-manager method (``store.atomic``): its enter and exit are metered, not its body."""
        @contextlib.contextmanager
        def metered(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with self.measure(label):
                manager = fn(*args, **kwargs)
                value = manager.__enter__()
            try:
                yield value
            except BaseException:
                with self.measure(label):
                    if not manager.__exit__(*sys.exc_info()):
                        raise
            else:
                with self.measure(label):
                    manager.__exit__(None, None, None)
        return metered

    def patch(self, obj: Any, label: str) -> None:
        """Meter every public method of ``obj`` (an instance) under ``label``."""
        for name in dir(type(obj)):
            if name.startswith("_") or not callable(getattr(type(obj), name, None)):
                continue
            method = getattr(obj, name)
            wrapper = self.wrap_transaction if name == "atomic" else self.wrap
            setattr(obj, name, wrapper(method, label))


class MeteredEmbedder:
    """Passes texts to an embedder, metering each call under the pipeline function that made it."""

    def __init__(self, inner: Any, meter: Meter) -> None:
        self.inner, self.meter = inner, meter
        self.name, self.dimensions = inner.name, inner.dimensions

    def __getattr__(self, attr: str) -> Any:
        if attr == "inner":
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def embed_batch(self, texts: Any) -> Any:
        with self.meter.measure(f"embed: {_call_site()}", len(texts)):
            return self.inner.embed_batch(texts)


def _call_site() -> str:
    """The first caller outside the embedding package, this module and thin helpers, as module.function."""
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(_EMBEDDING_MODULES) and frame.f_code.co_name not in _HELPERS:
            return f"{module.rsplit('.', 1)[-1]}.{frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


class _Synchronous:
    """An executor that runs work at once in the caller's thread (for the breakdown pass)."""

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True) -> None:
        pass


def _embedder(kind: str, threads: int | None) -> Any:
    from agent_memory.embedding.minilm import MiniLMEmbedder

    if kind == "fp32":
        try:
            return MiniLMEmbedder(quantized=False, intra_op_num_threads=threads)  # type: ignore[call-arg]
        except TypeError:  # a version before the quantized default: it is the shipped graph
            return MiniLMEmbedder(intra_op_num_threads=threads)
    return MiniLMEmbedder(intra_op_num_threads=threads)


def _ingest(memory: Any, sessions: list[tuple[int, str, Any, list[Any]]]) -> int:
    from agent_memory import Message

    users: set[str] = set()
    sent = 0
    for conv, sid, date, turns in sessions:
        uid = f"locomo-{conv}"
        if uid not in users:
            memory.user.add(user_id=uid)
            users.add(uid)
        tid = f"{uid}-{sid}"
        memory.thread.create(thread_id=tid, user_id=uid)
        for start in range(0, len(turns), THREAD_SIZE):
            chunk = turns[start : start + THREAD_SIZE]
            memory.thread.add_messages(tid, messages=[
                Message(role=t.role, name=t.speaker, content=t.text, created_at=date + timedelta(seconds=start + i))
                for i, t in enumerate(chunk)])
            sent += len(chunk)
    return sent


def _cold_lemmas(nlp: Any) -> None:
    """Empty spaCy's lemma cache (kept by the process-wide pipeline): each pass then starts as a fresh
    process does, instead of the later passes finding every word of the same turns already lemmatized."""
    if "lemmatizer" in getattr(nlp, "pipe_names", ()):
        cache = getattr(nlp.get_pipe("lemmatizer"), "cache", None)
        if isinstance(cache, dict):
            cache.clear()


def _core(memory: Any) -> Any:
    return getattr(memory, "_core", None) or memory._service  # the engine behind the facade


def run(sessions: list[tuple[int, str, Any, list[Any]]], *, embedder: str = "default", threads: int | None = None,
        text_cache: bool = True, breakdown: bool = False, background: bool = False) -> dict[str, Any]:
    """One pass over a fresh home; with ``breakdown`` the pipeline is serial and metered; with ``background``
    messages are queued to the ingestion worker, which takes them in batches (128 offline) as they pile up."""
    from agent_memory import Memory, MemoryConfig
    from agent_memory.extraction.offline import OfflineExtractor

    meter = Meter()
    inner = _embedder(embedder, threads)
    inner.load()
    extractor = OfflineExtractor()
    load = getattr(extractor, "load", None)
    if callable(load):
        load()  # spaCy, and dateparser's patterns (compiled on first use: ~0.3-0.4 CPU-s once per process)
    _cold_lemmas(extractor.nlp)  # loads spaCy now, not in the timed part
    home = tempfile.mkdtemp(prefix="am-ingest-cost-")
    try:
        config = MemoryConfig.from_env(home=home, ingest_mode="background" if background else "inline")
        memory = Memory(config=config, embedder=MeteredEmbedder(inner, meter) if breakdown else inner,
                        extractor=extractor)
        core = _core(memory)
        ingestor = core.ingestor
        if not text_cache:
            ingestor.embedder = ingestor.embedder.inner if hasattr(ingestor.embedder, "hits") else ingestor.embedder
        stages = None if breakdown else Stages()
        if stages is not None:
            stages.attach(ingestor)
        if breakdown:
            ingestor._pool = _Synchronous()
            ingestor.extractor = _MeteredExtractor(ingestor.extractor, meter)
            index = getattr(core.store, "index", None)  # the embedded store: SQLite + a VectorIndex
            if index is not None:
                meter.patch(index, "vector index")
            meter.patch(core.store, "SQL store")
        wall, cpu = time.perf_counter(), time.process_time()
        sent = _ingest(memory, sessions)
        memory.wait_until_processed()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        cache = ingestor.embedder
        memory.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    out: dict[str, Any] = {
        "messages": sent, "cpu_ms_per_message": round(1000 * cpu / sent, 2),
        "wall_messages_per_s": round(sent / wall, 1), "embedder": inner.name,
        "intra_op_threads": inner.intra_op_num_threads, "text_cache": text_cache,
        "ingest_mode": "background" if background else "inline",
    }
    out["cores_used"] = round(cpu / wall, 2)  # process CPU over wall: how much of the machine the pass kept busy
    if stages is not None:
        out["stages"] = stages.report(wall)
    if hasattr(cache, "hits"):
        out["text_cache_hits"], out["text_cache_misses"] = cache.hits, cache.misses
    if breakdown:
        parts = {k: 1000 * v / sent for k, v in meter.cpu.items()}
        parts["other (Python, caches, ...)"] = 1000 * cpu / sent - sum(parts.values())
        out["components_cpu_ms_per_message"] = {k: round(v, 2) for k, v in sorted(parts.items())}
        out["texts_per_message"] = {k: round(v / sent, 2) for k, v in sorted(meter.texts.items()) if v}
    return out


class _MeteredExtractor:
    """The extractor, with ``extract`` metered; its other attributes (chunks, wants_context ...) as is."""

    def __init__(self, inner: Any, meter: Meter) -> None:
        self.inner, self.meter = inner, meter

    def __getattr__(self, attr: str) -> Any:
        if attr == "inner":
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def extract(self, episodes: Any, context: Any) -> Any:
        with self.meter.measure("extractor (spaCy + rules)"):
            return self.inner.extract(episodes, context)


def _table(result: dict[str, Any]) -> str:
    rows = result["components_cpu_ms_per_message"]
    total = sum(rows.values())
    texts = result["texts_per_message"]
    lines = [f"{'component':44} {'CPU-ms/msg':>10} {'share':>6} {'texts/msg':>9}"]
    for name, ms in sorted(rows.items(), key=lambda kv: -kv[1]):
        count = f"{texts[name]:.2f}" if name in texts else ""
        lines.append(f"{name:44} {ms:10.2f} {100 * ms / total:5.1f}% {count:>9}")
    lines.append(f"{'total (serial pass)':44} {total:10.2f}")
    return "\n".join(lines)


def _stage_table(result: dict[str, Any]) -> str:
    """Busy time per thread and stage (wall, that thread's CPU, share of the pass's wall)."""
    lines = [f"  {'thread':22} {'stage':42} {'wall s':>7} {'CPU s':>6} {'of wall':>7}"]
    for row in result["stages"]:
        lines.append(f"  {row['thread'][:22]:22} {row['stage'][:42]:42} {row['wall_s']:7.2f} {row['cpu_s']:6.2f} "
                     f"{100 * row['share_of_wall']:6.1f}%")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="LoCoMo turns to ingest")
    parser.add_argument("--locomo", type=Path, help="a LoCoMo-format file (default: ../shared/data)")
    parser.add_argument("--embedder", choices=("default", "fp32"), default="default",
                        help="default = the quantized MiniLM; fp32 = the shipped graph as is (the previous default)")
    parser.add_argument("--threads", type=int, help="the embedder's intra-op threads (default: min(2, cores))")
    parser.add_argument("--no-text-cache", dest="text_cache", action="store_false",
                        help="embed every text the pipeline asks for, even one it embedded before")
    parser.add_argument("--skip-throughput", action="store_true", help="only the (serial) breakdown pass")
    parser.add_argument("--no-background", dest="background", action="store_false",
                        help="skip the throughput pass through the background worker (batches of 128 offline as "
                             "messages pile up, the next batch's episode vectors computed while one is indexed)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    sessions = load_turns(args.n, args.locomo)
    n = sum(len(t) for *_, t in sessions)
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"{n} LoCoMo turns, {len({c for c, *_ in sessions})} users, {len(sessions)} sessions; "
          f"embedder={args.embedder}, threads={args.threads or 'default'}, text cache={args.text_cache}", flush=True)
    out: dict[str, Any] = {"command": " ".join(["python -m benchmarks.ingest_cost", *(argv or sys.argv[1:])])}
    options = {"embedder": args.embedder, "threads": args.threads, "text_cache": args.text_cache}
    if not args.skip_throughput:
        out["throughput"] = run(sessions, **options)
        t = out["throughput"]
        print(f"\nthroughput pass ({t['embedder']}, {t['intra_op_threads']} intra-op threads): "
              f"{t['cpu_ms_per_message']} CPU-ms/message -> {1000 / t['cpu_ms_per_message']:.0f} msg/s per free "
              f"core; wall {t['wall_messages_per_s']} msg/s (not meaningful while other work shares the machine), "
              f"{t['cores_used']} cores used", flush=True)
        print(_stage_table(t), flush=True)
    if args.background and not args.skip_throughput:
        out["background"] = run(sessions, **options, background=True)
        t = out["background"]
        print(f"\nbackground worker pass: {t['cpu_ms_per_message']} CPU-ms/message; wall {t['wall_messages_per_s']} "
              f"msg/s, {t['cores_used']} cores used (add_messages returns at once; timed until wait_until_processed "
              "returns)", flush=True)
        print(_stage_table(t), flush=True)
    out["breakdown"] = run(sessions, **options, breakdown=True)
    b = out["breakdown"]
    print(f"\nbreakdown pass (serial, metered): {b['cpu_ms_per_message']} CPU-ms/message")
    if "text_cache_hits" in b:
        print(f"embed-once cache: {b['text_cache_hits']} texts served, {b['text_cache_misses']} embedded")
    print(_table(b))
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on "
          f"{os.cpu_count()} cores (other work inflates CPU-ms too: compare runs made at the same load)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
