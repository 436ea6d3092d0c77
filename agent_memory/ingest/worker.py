"""A background worker: processes each user's pending episodes in order, off the caller's thread."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque

from ..errors import AgentMemoryError, ProcessingTimeoutError
from .pipeline import Ingestor

__all__ = ["Readers", "Worker"]

log = logging.getLogger(__name__)


class Readers:
    """Reads in flight (``with readers:`` around each). Background ingestion starts a user's batch
    when none is, so a read that follows ``add_messages`` (an agent's turn) has the cores to itself
    instead of sharing them with the ingestion of the message it just added."""

    def __init__(self) -> None:
        self._count = 0
        self._cond = threading.Condition()

    def __enter__(self) -> Readers:
        with self._cond:
            self._count += 1
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._count -= 1
            if not self._count:
                self._cond.notify_all()

    def busy(self) -> bool:
        return self._count > 0

    def wait_idle(self, patience: float) -> None:
        """Return when no read is in flight, or after ``patience`` seconds (reads never starve ingestion)."""
        deadline = time.monotonic() + patience
        with self._cond:
            while self._count and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)


class Worker:
    """One daemon thread draining a queue of user ids; ``wait`` blocks until a user is idle.

    With ``debounce`` > 0 a user's new episodes gather for that long after the first of them was
    submitted, or until ``min_batch`` of them are pending, so the messages of a chat loop become one
    batch (one extraction call). A caller blocked in :meth:`wait` (``wait_until_processed``) cuts
    the window short: nothing is gained by making it wait.
    """

    def __init__(self, ingestor: Ingestor, *, debounce: float = 0.0, min_batch: int = 1,
                 readers: Readers | None = None, patience: float = 0.25) -> None:
        self.ingestor = ingestor
        self.readers, self.patience = readers, patience  # a batch waits up to ``patience`` s for reads
        self.debounce = debounce  # let a chat loop's messages gather into one batch (one model call)
        self.min_batch = min_batch
        self._pending: dict[str, int] = {}  # episodes submitted per queued user
        self._queue: deque[str] = deque()
        self._busy: set[str] = set()
        self._errors: dict[str, Exception] = {}
        self._ready: dict[str, float] = {}  # when each queued user's debounce window closes
        self._waiters: dict[str | None, int] = {}  # callers blocked in wait(), per user (None: everyone)
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="agent-memory-ingest", daemon=True)
        self._thread.start()

    def submit(self, user_id: str, count: int = 1) -> None:
        with self._cond:
            self._pending[user_id] = self._pending.get(user_id, 0) + count
            if user_id not in self._queue:
                self._queue.append(user_id)
                self._ready[user_id] = time.monotonic() + self.debounce  # the window opens at the first submit
            self._cond.notify_all()

    def forget(self, user_id: str) -> None:
        with self._cond:
            while user_id in self._queue:
                self._queue.remove(user_id)
            self._ready.pop(user_id, None)
            self._pending.pop(user_id, None)
            while user_id in self._busy:
                self._cond.wait(0.1)

    def _hurried(self, user_id: str) -> bool:
        return bool(self._waiters.get(user_id) or self._waiters.get(None))

    def _first_ready(self, now: float, running: str | None = None) -> str | None:
        """(Holding the lock) the queued user to run next if one is ready now: someone waiting first."""
        ready = [u for u in self._queue if u != running and u not in self._busy and (
            self._stopping or self._hurried(u) or self._pending.get(u, 0) >= self.min_batch
            or self._ready.get(u, 0.0) <= now)]
        return next((u for u in ready if self._hurried(u)), ready[0]) if ready else None

    def _next(self) -> str | None:
        """(Holding the lock) the next user ready to run, waiting as needed; None to stop.

        A user is ready when someone waits for them, when ``min_batch`` episodes are pending, or
        when their window (opened at their first submit) is over; one user never delays another.
        """
        while True:
            if not self._queue:
                if self._stopping:
                    return None
                self._cond.wait()
                continue
            now = time.monotonic()
            user_id = self._first_ready(now)
            if user_id is not None:
                self._queue.remove(user_id)
                self._ready.pop(user_id, None)
                self._pending.pop(user_id, None)
                return user_id
            self._cond.wait(min(self._ready.get(u, now) for u in self._queue) - now)

    def _run(self) -> None:
        while True:
            with self._cond:
                user_id = self._next()
                if user_id is None:
                    return
                self._busy.add(user_id)
            try:
                self._reads_first(user_id)
                # and again before each further batch: a backlog's run never keeps a read waiting long
                self.ingestor.process_user(user_id, between=functools.partial(self._reads_first, user_id),
                                           under_way=functools.partial(self._warm_next, user_id))
                self._errors.pop(user_id, None)
            except Exception as exc:  # noqa: BLE001 - surfaced by wait()
                log.exception("background ingestion failed for user %s", user_id)
                self._errors[user_id] = exc
            finally:
                with self._cond:
                    self._busy.discard(user_id)
                    self._cond.notify_all()

    def _warm_next(self, running: str) -> None:
        """Queue the episode vectors of the user who runs next (if one is ready now) behind this run's
        own: the embedding thread computes them while this thread extracts, indexes and summarises."""
        with self._cond:
            following = self._first_ready(time.monotonic(), running)
        if following is not None:
            self.ingestor.warm(following, first=functools.partial(self._reads_first, following))

    def _reads_first(self, user_id: str) -> None:
        """Hold the user's batch while reads are in flight, up to ``patience`` s; a caller waiting for
        the user (``wait``) or ``stop`` ends the hold."""
        if self.readers is None:
            return
        deadline = time.monotonic() + self.patience
        while self.readers.busy() and (left := deadline - time.monotonic()) > 0:
            with self._cond:
                if self._stopping or self._hurried(user_id):
                    return
            self.readers.wait_idle(min(left, 0.02))

    def wait(self, user_id: str | None = None, timeout: float | None = None) -> None:
        """Block until the user (or everyone) has nothing queued; re-raise a failure of the run."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            def idle() -> bool:
                if user_id is None:
                    return not self._queue and not self._busy
                return user_id not in self._queue and user_id not in self._busy

            self._waiters[user_id] = self._waiters.get(user_id, 0) + 1
            self._cond.notify_all()  # a debouncing run starts now
            try:
                while not idle():
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise ProcessingTimeoutError(f"episodes still processing after {timeout} s")
                    self._cond.wait(remaining)
            finally:
                self._waiters[user_id] -= 1
                if not self._waiters[user_id]:
                    del self._waiters[user_id]
            err = self._errors.get(user_id) if user_id else next(iter(self._errors.values()), None)
        if err is not None:
            raise err if isinstance(err, AgentMemoryError) else AgentMemoryError(str(err))

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=30)
