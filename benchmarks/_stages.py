"""Per-stage busy time of the ingestion threads during a throughput pass (how well the two cores overlap).

Each stage's wall time (how long a thread was in it) and that thread's CPU time in it are summed per
thread; a stage called inside another counts for itself and is taken out of its caller. Wall minus
CPU is time the thread waited: for the GIL, for another thread (Chroma's), or for a core.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["Stages"]

# (method of the Ingestor, label); the ingest thread's remaining time is its SQL, resolution and glue
_INGESTOR = (
    ("_extract", "extraction (spaCy + rules)"),
    ("_embed_new_names", "names for merging (embed + query)"),
    ("_collect", "episode vectors: helping, then waiting"),
    ("_flush", "episode vector writes (vector index)"),
    ("index_owed", "indexer: embed + write facts, entities"),
    ("process_user", "other: SQL, resolution, commits"),
)


class Stages:
    """Meters an ``Ingestor``'s stages (and its embedding thread's tasks) by thread."""

    def __init__(self) -> None:
        self.wall: dict[tuple[str, str], float] = defaultdict(float)
        self.cpu: dict[tuple[str, str], float] = defaultdict(float)
        self._local = threading.local()
        self._lock = threading.Lock()

    def _timed(self, fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            stack: list[list[float]] = self._local.__dict__.setdefault("stack", [])
            stack.append([0.0, 0.0])  # wall and CPU of stages nested in this one
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
                nested = stack.pop()
                if stack:
                    stack[-1][0] += wall
                    stack[-1][1] += cpu
                key = (threading.current_thread().name.split("_")[0], label)
                with self._lock:
                    self.wall[key] += wall - nested[0]
                    self.cpu[key] += cpu - nested[1]
        return timed

    def attach(self, ingestor: Any) -> None:
        """Meter the ingestor's stages, and every task its embedding thread runs."""
        for name, label in _INGESTOR:
            if hasattr(ingestor, name):
                setattr(ingestor, name, self._timed(getattr(ingestor, name), label))
        pool, timed = ingestor._pool, self._timed

        class _Pool:
            def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
                return pool.submit(timed(fn, "episode embedding (contextual_vectors)"), *args, **kwargs)

            def shutdown(self, wait: bool = True) -> None:
                pool.shutdown(wait=wait)

        ingestor._pool = _Pool()

    def report(self, wall: float) -> list[dict[str, Any]]:
        """Rows (thread, stage, wall s, CPU s, share of the pass's wall), busiest thread first."""
        busy: dict[str, float] = defaultdict(float)
        for (thread, _), seconds in self.wall.items():
            busy[thread] += seconds
        rows = [{"thread": thread, "stage": label, "wall_s": round(w, 2), "cpu_s": round(self.cpu[thread, label], 2),
                 "share_of_wall": round(w / wall, 3)}
                for (thread, label), w in self.wall.items()]
        return sorted(rows, key=lambda r: (-busy[r["thread"]], -r["wall_s"]))
