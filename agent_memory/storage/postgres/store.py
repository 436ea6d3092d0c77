"""``PostgresStore``: the GraphStore on PostgreSQL + pgvector, shared by any number of processes.

Records, full text and vectors live in one database (one schema per deployment), so a record and
its vector task commit together and ``write_vectors`` settles the task in the vector's own
transaction. See docs/postgres.md for deployment, tenancy and what deletion leaves until VACUUM.
"""

from __future__ import annotations

from typing import Any

from .connection import DEFAULT_SCHEMA, Tracer
from .graph import GraphMixin
from .records import RecordsMixin
from .schema import lock_key
from .search import KINDS, SearchMixin

__all__ = ["DEFAULT_SCHEMA", "PostgresStore"]

# Tables purged by VACUUM after deletions, children before parents.
_TABLES = ("vector_tasks", "vectors_episode", "vectors_fact", "vectors_entity", "vectors_observation",
           "fact_episodes", "mentions", "entity_names", "facts", "entities", "observations", "episode_text", "episodes",
           "llm_call_episodes", "llm_calls", "threads", "users")


class PostgresStore(RecordsMixin, GraphMixin, SearchMixin):
    """The GraphStore on PostgreSQL. ``url`` is a libpq URL (``postgresql://user:pw@host/db``); the
    tables live in ``schema`` (default ``agent_memory``, or ``?schema=`` in the URL), created and
    migrated on first open. ``pool_size`` bounds this process's connections (default 8)."""

    round_trips = True  # every read is a round trip to the server

    def __init__(self, url: str, *, schema: str | None = None, pool_size: int | None = None,
                 tracer: Tracer | None = None, connect_timeout: float = 30.0) -> None:
        self._counts, self._hnsw_valid, self._hnsw_building = {}, set(), set()
        super().__init__(url, schema=schema, pool_size=pool_size, tracer=tracer, connect_timeout=connect_timeout)

    @classmethod
    def open(cls, url: str, **options: Any) -> PostgresStore:
        """Open (creating or migrating the schema if needed) the store at ``url``."""
        return cls(url, **options)

    def delete_user(self, user_id: str) -> None:
        """Remove every row, full-text entry, vector and vector task of the user in one transaction.

        PostgreSQL keeps the deleted tuples in its data files until VACUUM reclaims them (and in WAL
        and backups until those rotate); ``purge(full=True)`` rewrites the tables at once.
        """
        with self._group():
            # wait for a run of this user's ingestion in any process to finish (its claim), and lock the
            # user row: episodes added meanwhile wait, then fail their foreign key instead of outliving it
            self._x("SELECT pg_advisory_xact_lock(%s)", (lock_key("agent-memory-ingest", self.schema, user_id),))
            self._x("SELECT 1 FROM users WHERE user_id=%s FOR UPDATE", (user_id,))
            self._x("DELETE FROM vector_tasks WHERE user_id=%s", (user_id,))
            for kind in KINDS:
                self._x(f"DELETE FROM vectors_{kind} WHERE user_id=%s", (user_id,))
            self._x("DELETE FROM llm_call_episodes WHERE episode_uuid IN (SELECT uuid FROM episodes WHERE user_id=%s)",
                    (user_id,))
            for table in ("fact_episodes", "mentions", "entity_names", "facts", "entities", "observations",
                          "episode_text", "episodes", "llm_calls", "threads", "users"):
                self._x(f"DELETE FROM {table} WHERE user_id=%s", (user_id,))
        with self._counts_lock:
            for key in [k for k in self._counts if k[0] == user_id]:
                del self._counts[key]

    def drop_vectors(self, user_id: str) -> None:
        """Remove every vector of the user, keeping the records (``agent-memory reindex``). When no vector
        is left at all, the memory's dimension and HNSW indexes go too, so a new embedder may have
        another size. Stop other processes using the memory while reindexing."""
        with self._group():
            for kind in KINDS:
                self._x(f"DELETE FROM vectors_{kind} WHERE user_id=%s", (user_id,))
            left = self._scalar(" + ".join(f"(SELECT count(*) FROM vectors_{k})" for k in KINDS).join(("SELECT ", "")))
            if not left:
                self._x("DELETE FROM meta WHERE key='vector_dimensions'")
                for kind in KINDS:
                    self._x(f"DROP INDEX IF EXISTS vectors_{kind}_hnsw")
        if not left:
            self._dim = None
            self._hnsw_valid.clear()
        with self._counts_lock:
            for key in [k for k in self._counts if k[0] == user_id]:
                del self._counts[key]

    def purge(self, *, full: bool = False) -> None:
        """VACUUM the tables so deleted rows leave the data files' live pages; ``full=True`` runs
        VACUUM FULL (rewrites each table and index: locks them while it runs)."""
        command = "VACUUM (FULL, ANALYZE)" if full else "VACUUM (ANALYZE)"
        with self._borrow() as conn, self._translate():  # VACUUM cannot run inside a transaction
            for table in _TABLES:
                conn.execute(f"{command} {table}")  # type: ignore[arg-type]  # our own table names
