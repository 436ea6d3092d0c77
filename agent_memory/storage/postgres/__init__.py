"""PostgreSQL + pgvector backend: one memory shared by many processes and hosts (``pip install
"agent-memory[postgres]"``). Open it with ``Memory("postgresql://...")``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import MissingDependencyError

if TYPE_CHECKING:
    from .store import PostgresStore

__all__ = ["DEFAULT_SCHEMA", "PostgresStore", "is_database_url"]

DEFAULT_SCHEMA = "agent_memory"


def is_database_url(value: object) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL."""
    return isinstance(value, str) and value.startswith(("postgresql://", "postgres://"))


def __getattr__(name: str) -> Any:
    if name == "PostgresStore":
        try:
            from .store import PostgresStore
        except ImportError as exc:
            raise MissingDependencyError(
                f'PostgreSQL support needs psycopg 3 and psycopg_pool ({exc}): pip install "agent-memory[postgres]"'
            ) from exc
        return PostgresStore
    raise AttributeError(name)
