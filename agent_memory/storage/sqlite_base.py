"""SQLite plumbing for the record store: a connection per thread, one writer at a time, the outbox.

Every thread reads through its own connection (WAL), so a reader sees the last committed state
and never waits for another thread's open transaction. Writes take one process-wide lock that an
``atomic()`` block holds until it commits: a write from another thread can never join (and vanish
with) someone else's transaction. Across processes SQLite's own locks and ``busy_timeout`` apply.
``:memory:`` becomes a file in a private temporary directory, removed on ``close()``, so the
ephemeral memory behaves exactly like the persistent one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._expiring import Expiring
from ..errors import AlreadyExistsError, ClosedError, StorageError
from .base import KINDS, Kind, VectorTask
from .migrations import migrate

__all__ = ["SQLiteBase", "Tracer", "dumps", "ukey"]

Tracer = Callable[[str, Sequence[Any]], None]


def ukey(user_id: str) -> str:
    """The per-user token every FTS row carries (a hash: the id itself is never indexed)."""
    return "u" + hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:20]


def loads(text: str) -> Any:
    """A stored JSON column; the empty ones, most of them, without the parser."""
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return json.loads(text)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _hint(exc: sqlite3.Error) -> str:
    """What to do about the errors a user can fix."""
    text = str(exc).lower()
    if "disk is full" in text:
        return "; free disk space and retry"
    if "readonly" in text or "read-only" in text:
        return "; the memory directory or its files are read-only: make them writable"
    if "locked" in text:
        return "; another process holds the database: retry, or use one process per memory home"
    return ""

class SQLiteBase:
    """Connections, transactions, metadata and the vector outbox of one SQLite file."""

    def __init__(self, path: str | Path = ":memory:", *, tracer: Tracer | None = None,
                 timeout: float = 30.0) -> None:
        self._tmpdir: str | None = None
        if str(path) == ":memory:":
            self._tmpdir = tempfile.mkdtemp(prefix="agent-memory-")
            path = Path(self._tmpdir) / "memory.db"
        self.path = str(path)
        self.tracer = tracer
        self.timeout = timeout
        self._local = threading.local()
        self._conns: dict[int, tuple[threading.Thread, sqlite3.Connection]] = {}
        self._conns_guard = threading.Lock()
        self._write = threading.RLock()
        self._closed = False
        # counted at most once a minute: (user, kind) -> does the user hold most rows of that kind;
        # kind -> rows of every user
        self._fts_lock = threading.Lock()
        self._fts_share: Expiring[tuple[str, str], bool] = Expiring(60.0, 10_000)
        self._fts_total: Expiring[str, int] = Expiring(60.0, 16)
        try:
            self.schema_version = migrate(self._conn())
        except sqlite3.Error as exc:
            self.close()
            raise StorageError(f"cannot open the database at {self.path}: {exc}; check that the directory is "
                               "writable, the disk has free space and the file is an agent-memory database") from exc
        except BaseException:
            self.close()
            raise

    # -- connections ------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=self.timeout)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the database at {self.path}: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            for attempt in range(50):  # switching to WAL needs a moment alone with a fresh file
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError:
                    if attempt == 49:
                        raise
                    time.sleep(0.05)
            sync = "OFF" if self._tmpdir else "NORMAL"
            for pragma in ("foreign_keys=ON", f"synchronous={sync}", "secure_delete=ON"):
                conn.execute(f"PRAGMA {pragma}")
        except sqlite3.Error as exc:  # read-only or full disk, a directory, a file that is not a database
            conn.close()
            raise StorageError(f"cannot open the database at {self.path}: {exc}; check that the directory is "
                               "writable, the disk has free space and the file is an agent-memory database") from exc
        return conn

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise ClosedError("this store is closed")
        conn = self._connect()
        me = threading.current_thread()
        with self._conns_guard:
            for ident, (thread, old) in list(self._conns.items()):
                if not thread.is_alive():  # a finished thread's connection
                    old.close()
                    del self._conns[ident]
            self._conns[me.ident or 0] = (me, conn)
        self._local.conn = conn
        return conn

    def _x(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        if self.tracer:
            self.tracer(sql, params)
        try:
            return self._conn().execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise AlreadyExistsError(f"record already exists: {exc}") from exc
        except sqlite3.Error as exc:
            raise StorageError(f"database error: {exc}{_hint(exc)}") from exc

    def _w(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """A write: under the writer lock, inside this thread's transaction if it has one."""
        with self._write:
            return self._x(sql, params)

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._x(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return self._x(sql, params).fetchone()  # type: ignore[no-any-return]

    def _packed(self, columns: str, rest: str, params: Sequence[Any] = ()) -> list[list[Any]]:
        """``SELECT <columns> <rest>`` as lists, packed into one JSON row by SQLite, in no set order.

        The sqlite3 module gives up the GIL for every row it steps to and must win it back: while
        another thread runs Python, each row then waits up to the switch interval (160 rows took 33
        instead of 0.6 ms beside a busy thread). One row, one wait. Text comes back exactly (NUL and
        control characters included: ``tests/storage/test_sqlite_packed.py``); a REAL column must come
        as ``printf('%!.17g', x)`` text (JSON keeps 15 digits, the text all of them)."""
        row = self._one(f"SELECT json_group_array(json_array({columns})) {rest}", params)
        return json.loads(row[0]) if row is not None and row[0] else []

    def _count(self, sql: str, params: Sequence[Any] = ()) -> int:
        row = self._one(sql, params)
        return int(row[0]) if row else 0

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """A write transaction for the calling thread; nested calls become savepoints.

        Holds the writer lock until it ends, so no other thread's write joins it; rolls back on
        any exception.
        """
        with self._write:
            depth: int = getattr(self._local, "depth", 0)
            outer = depth == 0
            name = f"sp{depth}"
            self._x("BEGIN IMMEDIATE" if outer else f"SAVEPOINT {name}")
            self._local.depth = depth + 1
            try:
                yield
            except BaseException:
                self._local.depth = depth
                if self._conn().in_transaction:  # SQLite itself rolls back on a full disk or I/O error: keep that error
                    self._x("ROLLBACK" if outer else f"ROLLBACK TO {name}")
                    if not outer:
                        self._x(f"RELEASE {name}")
                raise
            self._local.depth = depth
            self._x("COMMIT" if outer else f"RELEASE {name}")

    def close(self) -> None:
        """Checkpoint the WAL and close every connection (and drop an ephemeral file)."""
        with self._write:
            if self._closed:
                return
            self._closed = True
            with self._conns_guard:
                conns = [c for _, c in self._conns.values()]
                self._conns.clear()
            try:
                if conns and self._tmpdir is None:  # busy (another process reads) is a row, not an error
                    conns[0].execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:  # committed data is safe in the WAL; the checkpoint runs on next open
                raise StorageError(f"closing the database at {self.path} could not checkpoint its log: {exc}; "
                                   "free disk space (nothing committed is lost)") from exc
            finally:
                for conn in conns:
                    conn.close()
                if self._tmpdir is not None:
                    shutil.rmtree(self._tmpdir, ignore_errors=True)

    def purge(self) -> None:
        """Merge FTS segments (dropping deleted terms), vacuum and truncate the WAL: freed pages go."""
        with self._write:
            for kind in KINDS:
                self._x(f"INSERT INTO fts_{kind}(fts_{kind}) VALUES ('optimize')")
            self._x("VACUUM")
            for _ in range(100):  # a reader mid-statement in another thread holds the WAL a moment
                if not self._one("PRAGMA wal_checkpoint(TRUNCATE)")[0]:  # type: ignore[index]
                    break
                time.sleep(0.02)

    # -- metadata ---------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key=?", (key,))
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._w("INSERT INTO meta VALUES (?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))

    # -- the vector outbox ------------------------------------------------------------------
    def _queue(self, user_id: str, kind: Kind, uuid: str) -> None:
        """Record (in the caller's transaction) that this record needs a new vector."""
        self._w("INSERT OR REPLACE INTO vector_tasks (user_id, kind, uuid) VALUES (?,?,?)", (user_id, kind, uuid))

    def _unqueue(self, kind: Kind, uuids: Sequence[str]) -> None:
        for start in range(0, len(uuids), 500):
            part = list(uuids[start : start + 500])
            marks = ",".join("?" * len(part))
            self._w(f"DELETE FROM vector_tasks WHERE kind=? AND uuid IN ({marks})", (kind, *part))

    def vector_tasks(self, limit: int = 256, *, user_id: str | None = None) -> list[VectorTask]:
        """Records owed a vector, oldest first."""
        if user_id is None:
            rows = self._all("SELECT * FROM vector_tasks ORDER BY seq LIMIT ?", (limit,))
        else:
            rows = self._all("SELECT * FROM vector_tasks WHERE user_id=? ORDER BY seq LIMIT ?", (user_id, limit))
        return [VectorTask(user_id=r["user_id"], kind=r["kind"], uuid=r["uuid"], seq=r["seq"]) for r in rows]

    def _settle(self, kind: Kind, uuids: Sequence[str], queued_before: int | None) -> None:
        for start in range(0, len(uuids), 500):
            part = list(uuids[start : start + 500])
            marks = ",".join("?" * len(part))
            bound = "" if queued_before is None else f" AND seq<={int(queued_before)}"
            self._w(f"DELETE FROM vector_tasks WHERE kind=? AND uuid IN ({marks}){bound}", (kind, *part))
