"""Connections for the PostgreSQL store: a thread-safe pool and per-thread transactions.

``atomic()`` takes one pooled connection, binds it to the calling thread for the whole
transaction (nested calls become savepoints) and returns it at the end; any statement that
thread runs meanwhile joins the transaction. A statement outside ``atomic()`` borrows a
connection for just that statement (autocommit), so readers never queue behind a writer.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb, set_json_loads

from ...errors import (
    AlreadyExistsError,
    ClosedError,
    ConfigError,
    InvalidInputError,
    MissingDependencyError,
    StorageError,
)
from .adapt import register_vector
from .schema import check_schema_name, lock_key, migrate, vector_schema

__all__ = ["DEFAULT_SCHEMA", "PgConnection", "jsonb", "split_url"]

from . import DEFAULT_SCHEMA

Row = dict[str, Any]
_TUPLES_OK = psycopg.pq.ExecStatus.TUPLES_OK
Params = Sequence[Any] | Mapping[str, Any]
Tracer = Callable[[str, Sequence[Any]], None]


def jsonb(value: Any) -> Jsonb:
    """A JSON parameter; values JSON cannot hold are stored as their text, as the embedded store does."""
    return Jsonb(value, dumps=lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True, default=str))


def _json_loads(data: str | bytes) -> Any:
    """JSON columns as Python values; the empty object and list most rows hold skip the parser."""
    if data == b"{}" or data == "{}":
        return {}
    if data == b"[]" or data == "[]":
        return []
    return json.loads(data)


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """The libpq URL without our own query options (``schema``, ``pool_size``), and those options."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(f"database URL must start with postgresql:// (got {parts.scheme or url!r}); "
                          "e.g. postgresql://user:password@host:5432/dbname")
    ours: dict[str, str] = {}
    rest: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        (ours.__setitem__(key, value) if key in ("schema", "pool_size") else rest.append((key, value)))
    return urlunsplit(parts._replace(query=urlencode(rest))), ours


class PgConnection:
    """The pool, the thread-bound transactions and the statement helpers the store builds on."""

    def __init__(self, url: str, *, schema: str | None = None, pool_size: int | None = None,
                 tracer: Tracer | None = None, connect_timeout: float = 30.0) -> None:
        try:
            import psycopg_pool  # noqa: F401
        except ImportError as exc:  # pragma: no cover - the [postgres] extra brings it
            raise MissingDependencyError('PostgreSQL needs psycopg_pool: pip install "agent-memory[postgres]"') from exc
        conninfo, opts = split_url(url)
        self.schema = check_schema_name(schema or opts.get("schema") or DEFAULT_SCHEMA)
        try:
            size = int(pool_size or opts.get("pool_size") or 8)
        except ValueError:
            raise ConfigError(f"pool_size in the database URL must be a whole number, got {opts['pool_size']!r}"
                              ) from None
        if size < 2:  # one connection may hold a user's ingestion claim while the work needs another
            raise ConfigError(f"pool_size must be at least 2, got {size}")
        self.tracer = tracer
        self._local = threading.local()
        self._closed = False
        try:
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=int(connect_timeout)) as conn:
                self.schema_version = migrate(conn, self.schema)
                ext = vector_schema(conn)
        except psycopg.OperationalError as exc:
            raise StorageError(f"cannot connect to PostgreSQL at {_redact(conninfo)}: {exc}".strip()) from exc
        # one round trip for a new pooled connection's settings (a context may wait for one to open):
        # - pages are cached or on SSD: a random read costs about a sequential one, so a full-text query
        #   matching a fifth of a user's rows reads them through the GIN index (the default 4 sent it to a
        #   scan testing every row's tsvector: 3x the server time at 10k episodes)
        # - filtered HNSW scans keep going until they have k rows of this user (pgvector >= 0.8)
        settings = sql.SQL("SET search_path TO {}, {}; SET TIME ZONE 'UTC'; SET random_page_cost = 1.1;"
                           " SET hnsw.iterative_scan = strict_order").format(
            sql.Identifier(self.schema), sql.Identifier(ext))

        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.execute(settings)
            set_json_loads(_json_loads, conn)
            register_vector(conn)  # vectors travel in binary (after search_path: the type is found on it)

        self._pool = _lifo_pool()(
            conninfo, min_size=1, max_size=size, open=False, configure=configure, timeout=connect_timeout,
            kwargs={"autocommit": True, "row_factory": dict_row}, name=f"agent-memory-{self.schema}")
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except Exception as exc:
            raise StorageError(f"cannot open a connection pool to {_redact(conninfo)}: {exc}") from exc

    # -- transactions ---------------------------------------------------------------------------
    def _bound(self) -> psycopg.Connection[Row] | None:
        return getattr(self._local, "conn", None)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """A transaction on one connection bound to this thread; nested calls are savepoints."""
        conn = self._bound()
        if conn is not None:
            with self._translate(), conn.transaction():
                yield
            return
        self._check_open()
        with self._borrow() as conn:
            self._local.conn = conn
            try:
                with self._translate(), conn.transaction():
                    yield
            finally:
                self._local.conn = None

    @contextmanager
    def _group(self) -> Iterator[None]:
        """Statements that must commit together: inside the caller's transaction when there is one
        (no savepoint round trips), else in a transaction of their own."""
        if self._bound() is not None:
            yield
            return
        with self.atomic():
            yield

    @contextmanager
    def _borrow(self) -> Iterator[psycopg.Connection[Row]]:
        """A pooled connection for the block. Given back as it is: the pool rolls back whatever a failed
        block left open (our connections are autocommit; ``atomic`` ends its own transactions), without
        the commit round of ``pool.connection()`` for every statement."""
        try:
            conn = self._pool.getconn()
        except psycopg.Error as exc:
            raise StorageError(f"no PostgreSQL connection available: {exc}") from exc
        except Exception as exc:  # PoolTimeout, PoolClosed
            raise StorageError(f"no PostgreSQL connection available ({type(exc).__name__}: {exc}); "
                               "check the server, or raise pool_size") from exc
        try:
            yield conn
        finally:
            self._pool.putconn(conn)

    @contextmanager
    def _translate(self) -> Iterator[None]:
        """Turn driver errors into ours, with what to do about them."""
        try:
            yield
        except psycopg.errors.UniqueViolation as exc:
            raise AlreadyExistsError(f"record already exists: {exc.diag.message_detail or exc}") from exc
        except psycopg.errors.IntegrityError as exc:
            raise InvalidInputError(f"record refers to something that does not exist: {exc}") from exc
        except psycopg.DataError as exc:
            raise InvalidInputError(f"value PostgreSQL cannot store: {exc}") from exc
        except (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected) as exc:
            raise StorageError(f"transaction conflicted with another writer; retry it: {exc}") from exc
        except psycopg.Error as exc:
            raise StorageError(f"database error: {exc}") from exc

    # -- statements -------------------------------------------------------------------------------
    def _run(self, conn: psycopg.Connection[Row], query: Any, params: Params | None,
             tuples: bool = False) -> list[Any]:
        if self.tracer:
            self.tracer(query if isinstance(query, str) else query.as_string(conn),
                        list(params.values()) if isinstance(params, Mapping) else (params or ()))
        # rows as tuples (C-built) for the hot reads: dict_row builds each dict in Python (160 episode
        # heads: 0.90 ms of client CPU as dicts, 0.35 ms as tuples)
        cur = psycopg.Cursor(conn, row_factory=tuple_row).execute(query, params) if tuples \
            else conn.execute(query, params)
        # rows only when the statement returned some (``cur.description`` would build a Column per column)
        res = cur.pgresult
        return cur.fetchall() if res is not None and res.status == _TUPLES_OK else []

    def _all(self, query: Any, params: Params | None = None) -> list[Row]:
        return self._fetch(query, params, False)

    def _tuples(self, query: Any, params: Params | None = None) -> list[tuple[Any, ...]]:
        """Like ``_all``, the rows as tuples in the order of the select list (for reads of many rows)."""
        return self._fetch(query, params, True)

    def _fetch(self, query: Any, params: Params | None, tuples: bool) -> list[Any]:
        """Run on the connection bound to this thread (inside ``atomic``), else on one borrowed."""
        conn = self._bound()
        if conn is not None:
            with self._translate():
                return self._run(conn, query, params, tuples)
        self._check_open()
        with self._borrow() as conn, self._translate():
            return self._run(conn, query, params, tuples)

    def _x(self, query: Any, params: Params | None = None) -> None:
        self._all(query, params)

    def _one(self, query: Any, params: Params | None = None) -> Row | None:
        rows = self._all(query, params)
        return rows[0] if rows else None

    def _scalar(self, query: Any, params: Params | None = None) -> Any:
        row = self._one(query, params)
        return None if row is None else next(iter(row.values()))

    def _many(self, query: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement over many parameter rows (pipelined by psycopg)."""
        if not rows:
            return
        with self._group():
            conn = self._bound()
            assert conn is not None
            if self.tracer:
                self.tracer(query, rows[0])
            with self._translate(), conn.cursor() as cur:
                cur.executemany(query, rows)  # type: ignore[arg-type]

    # -- locks ----------------------------------------------------------------------------------
    @contextmanager
    def claim_user(self, user_id: str) -> Iterator[None]:
        """Hold this user's ingestion across every process: a session advisory lock on a connection
        of its own, waited for if another process holds it. A process that dies lets it go with its
        connection, so a crashed worker's pending episodes are taken up by the next one."""
        self._check_open()
        key = lock_key("agent-memory-ingest", self.schema, user_id)
        with self._borrow() as conn, self._translate():
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    # -- lifecycle ------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("this PostgreSQL store is closed; open a new one")

    def close(self) -> None:
        """Close every pooled connection (transactions in flight in other threads are rolled back)."""
        if not self._closed:
            self._closed = True
            self._pool.close()

    def get_meta(self, key: str) -> str | None:
        return self._scalar("SELECT value FROM meta WHERE key=%s", (key,))  # type: ignore[no-any-return]

    def set_meta(self, key: str, value: str) -> None:
        self._x("INSERT INTO meta VALUES (%s,%s) ON CONFLICT (key) DO UPDATE SET value=excluded.value", (key, value))



@lru_cache(maxsize=1)
def _lifo_pool() -> type[Any]:
    """psycopg_pool's ConnectionPool handing out the connection returned last (it hands out the one
    idle longest). A context's ~20 statements then run on the same one or two server processes, whose
    caches are warm: replaying a context's statements cost the server 23.6 ms of CPU on one connection
    against 28.5 ms spread over four (10k episodes). Idle connections still close oldest first."""
    from psycopg_pool import ConnectionPool

    class LifoPool(ConnectionPool):  # type: ignore[type-arg]
        def _get_ready_connection(self, timeout: float | None) -> Any:
            idle = getattr(self, "_pool", None)  # a deque, oldest on the left (psycopg_pool 3.2, 3.3)
            if isinstance(idle, deque) and len(idle) > 1:
                idle.rotate(1)  # the newest first; the rest keep their order (the pool takes from the left)
            return super()._get_ready_connection(timeout)

    return LifoPool


def _redact(conninfo: str) -> str:
    """The connection string without its password, for error messages."""
    parts = urlsplit(conninfo)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return conninfo
