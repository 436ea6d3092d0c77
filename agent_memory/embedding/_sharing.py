"""Model runs any thread can take: an ``embed_batch`` in progress lets idle threads run its sub-batches.

Ingestion embeds a batch's episodes on a second thread while the first extracts; when the first
thread is done early and would wait for those vectors, it takes some of the batch's remaining model
runs instead (``Embedder.help``), so both cores work on it. The runs are the ones the owner planned
(same texts together, same order), so a text's vector does not depend on which thread ran it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["SharedRuns"]

Run = Callable[[list[Any]], np.ndarray]  # one forward pass over some inputs -> their rows


class _Job:
    """One call's planned runs: which rows of ``out`` each fills from which inputs."""

    def __init__(self, runs: Sequence[list[int]], inputs: Sequence[Any], out: np.ndarray) -> None:
        self.todo: deque[list[int]] = deque(runs)
        self.inputs, self.out = inputs, out
        self.busy = 0  # runs taken and not finished
        self.error: BaseException | None = None


class SharedRuns:
    """The runs of ``embed_batch`` calls in progress, taken one at a time by their owner or a helper."""

    def __init__(self) -> None:
        self._jobs: list[_Job] = []
        self._cond = threading.Condition()

    def execute(self, runs: Sequence[list[int]], inputs: Sequence[Any], out: np.ndarray, run: Run) -> None:
        """Fill ``out[rows] = run([inputs[i] for i in rows])`` for each planned run, letting helpers take
        some; returns when all are done, raising the first failure (the owner's or a helper's)."""
        if len(runs) <= 1:  # nothing to share
            for rows in runs:
                out[rows] = run([inputs[i] for i in rows])
            return
        job = _Job(runs, inputs, out)
        with self._cond:
            self._jobs.append(job)
        try:
            while (taken := self._take(job)) is not None:
                self._do(job, taken, run)
        finally:
            with self._cond:
                self._jobs.remove(job)
                while job.busy:  # runs a helper took: their rows are written before we return
                    self._cond.wait()
        if job.error is not None:
            raise job.error

    def help(self, run: Run) -> bool:
        """Run one pending run of another call; False when none is waiting."""
        with self._cond:
            for job in self._jobs:
                if job.todo and job.error is None:
                    rows = job.todo.pop()  # from the far end: the owner takes from the front
                    job.busy += 1
                    break
            else:
                return False
        self._do(job, rows, run)
        return True

    def _take(self, job: _Job) -> list[int] | None:
        with self._cond:
            if not job.todo or job.error is not None:
                return None
            job.busy += 1
            return job.todo.popleft()

    def _do(self, job: _Job, rows: list[int], run: Run) -> None:
        try:
            job.out[rows] = run([job.inputs[i] for i in rows])
        except BaseException as exc:  # noqa: BLE001 - re-raised by the owner
            with self._cond:
                job.error = job.error or exc
        finally:
            with self._cond:
                job.busy -= 1
                self._cond.notify_all()
