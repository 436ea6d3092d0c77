"""The embedded GraphStore: SQLite records and full text, plus a VectorIndex for the vectors.

Records and vector tasks are written in one SQLite transaction; vectors only ever after it, by
``write_vectors`` (upsert, then settle the tasks: a crash in between leaves the task, and the
next upsert of the same deterministic id is harmless). ``reconcile`` compares records, tasks and
vectors after a crash; an exclusively owned home skips it at open when its last owner closed cleanly
(a token written at close, both into SQLite and next to the vectors, and cleared at open, so a crash
or a copy of one half from another time is seen). Deletes remove the records first, then the vectors;
one lock orders them against ``write_vectors``, so a vector computed for a record being deleted is
never left behind.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid as uuidlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from .base import KINDS, EpisodeHead, Kind, ReconcileReport
from .sqlite import SQLiteStore
from .sqlite_base import Tracer
from .vectors import VectorIndex

__all__ = ["EmbeddedStore"]

log = logging.getLogger(__name__)

CLEAN_KEY = "clean_close"  # meta key of the clean-close token
CLEAN_FILE = "agent_memory.clean"  # the same token, next to the vectors (in the Chroma directory)


class EmbeddedStore(SQLiteStore):
    """SQLite (records, FTS5, the outbox) composed with a VectorIndex (embedded Chroma, a Chroma
    server, or the exact in-process index). ``on_close`` runs last (e.g. releasing the home lock).
    ``exclusive``: this process alone uses these files (the home lock is held exclusively), which is
    what lets a clean close spare the next open its reconcile."""

    def __init__(self, path: str | Path, index: VectorIndex, *, tracer: Tracer | None = None,
                 on_close: list[object] | None = None, exclusive: bool = False) -> None:
        self.index = index
        self._vectors = threading.RLock()  # orders write_vectors against deletes
        self._on_close = on_close or []
        self.last_reconcile: ReconcileReport | None = None
        self._half_done = False  # a vector step failed: the next open must reconcile
        self._marker: Path | None = None
        self._clean = False
        super().__init__(path, tracer=tracer)  # closes everything above if the database cannot open
        root = getattr(index, "persist_dir", None) if exclusive else None
        self._marker = Path(root) / CLEAN_FILE if root is not None else None
        try:
            self._clean = self._take_clean_marker()
        except BaseException:
            self._half_done = True
            self.close()
            raise

    def _take_clean_marker(self) -> bool:
        """True if the last owner closed cleanly and both halves are from that close; clears the
        token at once (committed), so a crash from now on makes the next open reconcile."""
        if self._marker is None:
            return False
        token = self.get_meta(CLEAN_KEY)
        try:
            beside = self._marker.read_text(encoding="ascii").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            beside = None
        if token is not None:
            self._w("DELETE FROM meta WHERE key=?", (CLEAN_KEY,))
        if beside is not None:
            self._marker.unlink(missing_ok=True)
        return token is not None and token == beside

    def _leave_clean_marker(self) -> None:
        """At a clean close: the same new token next to the vectors (synced) and then in SQLite."""
        if self._marker is None or self._half_done or not self._marker.parent.is_dir():
            return
        token = uuidlib.uuid4().hex
        try:
            with open(self._marker, "w", encoding="ascii") as f:
                f.write(token)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:  # the next open reconciles: slower, never wrong
            log.warning("could not write %s (%s): the next open will reconcile", self._marker, exc)
            return
        self.set_meta(CLEAN_KEY, token)

    @contextmanager
    def _repair_if_it_fails(self) -> Iterator[None]:
        """Marks the store as needing a reconcile at the next open if the block raises."""
        try:
            yield
        except BaseException:
            self._half_done = True
            raise

    def close(self) -> None:
        """Close the vector index, then the database, then whatever else the store was given."""
        if self._closed:
            return
        try:
            self.index.close()
            self._leave_clean_marker()  # only after the vectors closed without an error
        finally:
            try:
                super().close()
            finally:  # even when the checkpoint fails (a full disk): the home lock must go
                for resource in self._on_close:
                    closer = getattr(resource, "close", None)
                    if callable(closer):
                        closer()

    def vector_namespace(self) -> str:
        """This memory's collection-name prefix on a shared Chroma server, fixed at its first open
        (``am`` for a memory that had users before namespaces existed), so that one memory's
        reconcile never takes another memory's collections for those of a deleted user."""
        with self.atomic():  # BEGIN IMMEDIATE: processes opening a fresh home at once agree
            known = self.get_meta("vector_namespace")
            if known is None:
                known = "am" if self.count_users() else "m" + uuidlib.uuid4().hex[:12]
                self.set_meta("vector_namespace", known)
        return known

    # -- vectors ----------------------------------------------------------------------------
    def search_vectors(self, user_id: str, kind: Kind, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """For each row of ``vectors``, the ``k`` nearest (uuid, cosine similarity), best first."""
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim == 1:
            matrix = matrix[None, :]
        return self.index.query_many(user_id, kind, matrix, k)

    def search_episode_text(self, user_id: str, query: str, limit: int = 20, *, among: Sequence[str] = (),
                            ) -> tuple[list[tuple[str, float]], dict[str, EpisodeHead]]:
        """``search_text`` over episodes, without heads: in-process they would be a read of their own
        (~2 ms of CPU for 160 hits at 10k episodes), and the retriever's memo already holds most of them."""
        return self.search_text(user_id, "episode", query, limit, among=among), {}

    def count_vectors(self, user_id: str, kind: Kind) -> int:
        return self.index.count(user_id, kind)

    def write_vectors(self, user_id: str, kind: Kind, uuids: Sequence[str], vectors: np.ndarray, *,
                      queued_before: int | None = None) -> None:
        """Upsert the vectors of records that still exist, then settle their tasks."""
        if kind not in KINDS:
            raise InvalidInputError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        ids = list(uuids)
        matrix = np.asarray(vectors, dtype=np.float32)
        if len(ids) != (matrix.shape[0] if matrix.ndim == 2 else 1 if ids else 0):
            raise InvalidInputError(f"{len(ids)} ids but vectors of shape {matrix.shape}")
        if not ids:
            return
        with self._vectors:
            live = set(self._existing(user_id, kind, ids))
            keep = [i for i, u in enumerate(ids) if u in live]
            if keep:
                self.index.upsert(user_id, kind, [ids[i] for i in keep], matrix.reshape(len(ids), -1)[keep])
            with self.atomic():
                self._settle(kind, ids, queued_before)

    def _existing(self, user_id: str, kind: Kind, ids: Sequence[str]) -> list[str]:
        table = self._FTS_SOURCE[kind][0]
        found: list[str] = []
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            marks = ",".join("?" * len(part))
            found += [r[0] for r in self._all(f"SELECT uuid FROM {table} WHERE +user_id=? AND uuid IN ({marks})",
                                              (user_id, *part))]
        return found

    def reconcile(self, *, if_unclean: bool = False) -> ReconcileReport:
        """Queue a task for every record with neither a vector nor a task; remove orphan vectors.

        Also drops the vectors of users that no longer exist (a crash between deleting a user's
        records and their vectors) and, for embedded Chroma, zeroes residue in its files. With
        ``if_unclean``, skipped (``full=False``) when the last owner closed cleanly. Reads vectors
        before records, records before tasks: a process writing meanwhile (a shared home) can make
        it queue a vector twice (harmless), never drop a live one.
        """
        if if_unclean and self._clean:
            self._clean = False
            self.last_reconcile = ReconcileReport(full=False)
            return self.last_reconcile
        self._clean = False
        report = ReconcileReport()
        with self._vectors, self._repair_if_it_fails():
            scrub = getattr(self.index, "scrub_files", None)  # embedded Chroma: residue a crash left
            if callable(scrub):
                scrub()
            report.removed["users"] = self.index.drop_users_except(self.user_ids)
            for user_id in self.user_ids():
                for kind in KINDS:
                    vectors = set(self.index.ids(user_id, kind))
                    records = set(self.record_ids(user_id, kind))
                    queued = {t[0] for t in self._all("SELECT uuid FROM vector_tasks WHERE user_id=? AND kind=?",
                                                      (user_id, kind))}
                    missing = sorted(records - vectors - queued)
                    orphans = sorted(vectors - records)
                    if missing:
                        with self.atomic():
                            for uuid in missing:
                                self._queue(user_id, kind, uuid)
                        report.queued[kind] = report.queued.get(kind, 0) + len(missing)
                    if orphans:
                        self.index.delete(user_id, kind, orphans)
                        report.removed[kind] = report.removed.get(kind, 0) + len(orphans)
        report.removed = {k: v for k, v in report.removed.items() if v}
        self.last_reconcile = report
        if report.repaired:
            log.warning("reconcile repaired this memory: queued %s, removed %s", report.queued, report.removed)
        return report

    # -- deletes: records first, then vectors ------------------------------------------------
    def delete_user(self, user_id: str) -> None:
        """Remove every row, full-text entry, vector task and vector of the user; purge freed pages."""
        with self._vectors:
            self._delete_user_rows(user_id)
            with self._repair_if_it_fails():
                self.index.delete_user(user_id)

    def delete_thread(self, thread_id: str) -> None:
        """Remove the thread, its episodes and their vectors (the graph keeps what it learned)."""
        with self._vectors:
            user_id, episodes = self._delete_thread_rows(thread_id)
            if user_id is not None and episodes:
                with self._repair_if_it_fails():
                    self.index.delete(user_id, "episode", episodes)

    def delete_episode(self, user_id: str, uuid: str) -> list[str]:
        """Remove an episode, its links and vector, and the facts only it stated; returns those facts' ids."""
        with self._vectors:
            facts = self._delete_episode_rows(user_id, uuid)
            with self._repair_if_it_fails():
                self.index.delete(user_id, "episode", [uuid])
                if facts:
                    self.index.delete(user_id, "fact", facts)
            return facts

    def delete_observation(self, user_id: str, key: str) -> None:
        with self._vectors:
            uuid = self._delete_observation_row(user_id, key)
            if uuid is not None:
                with self._repair_if_it_fails():
                    self.index.delete(user_id, "observation", [uuid])
