"""Python's thread switch interval, shortened while reads are in flight (process-wide, counted).

A read runs on several threads: the query's model run and the vector index on one, SQLite full
text on others. Each of them gives up the GIL for its native work and asks for it back; while
another thread runs Python (an async server's event loop), getting it back waits up to the switch
interval (5 ms by default). With 1 ms while any read is in flight, a read at 10k episodes beside a
busy Python thread took p50 231 instead of 812 ms (``python -m benchmarks.busy_reads``); the previous
interval is restored when the last read ends.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["switching"]

_lock = threading.Lock()
_depth = 0
_saved: float | None = None  # the interval before the first read in flight; None: left alone
_ours: float | None = None  # what this module set (restored only if nobody changed it since)


@contextmanager
def switching(interval: float) -> Iterator[None]:
    """Run the block with the switch interval at most ``interval`` seconds (0: leave it as it is).

    Only ever shortens it; nested and concurrent reads share one change (the first one's)."""
    global _depth, _saved, _ours
    if interval <= 0:
        yield
        return
    with _lock:
        if _depth == 0:
            current = sys.getswitchinterval()
            if interval < current:
                _saved = current
                sys.setswitchinterval(interval)
                _ours = sys.getswitchinterval()
            else:
                _saved = _ours = None
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                if sys.getswitchinterval() == _ours:  # the application changed it meanwhile: keep theirs
                    sys.setswitchinterval(_saved)
                _saved = _ours = None
