"""The backends every storage test runs against. Adding a backend is one entry in ``BACKENDS``.

A factory takes a fresh directory and returns an open ``GraphStore`` (the test closes it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent_memory.storage.base import GraphStore

StoreFactory = Callable[[], GraphStore]


def _embedded_exact(tmp: Path, request: pytest.FixtureRequest) -> GraphStore:
    from agent_memory.storage.embedded import EmbeddedStore
    from agent_memory.storage.inmemory import ExactIndex

    return EmbeddedStore(tmp / "memory.db", ExactIndex())


def _embedded_chroma(tmp: Path, request: pytest.FixtureRequest) -> GraphStore:
    from agent_memory.storage.chroma import ChromaIndex
    from agent_memory.storage.embedded import EmbeddedStore

    return EmbeddedStore(tmp / "memory.db", ChromaIndex.persistent(tmp / "chroma"))


def _chroma_server(tmp: Path, request: pytest.FixtureRequest) -> GraphStore:
    from agent_memory.storage.chroma import ChromaIndex
    from agent_memory.storage.embedded import EmbeddedStore

    host, port = request.getfixturevalue("chroma_server")
    index = ChromaIndex.http(host, port)
    index.prefix = "t" + tmp.name[-12:].replace(".", "").replace("_", "")[:12]  # tests share the server
    return EmbeddedStore(tmp / "memory.db", index)


def _postgres(tmp: Path, request: pytest.FixtureRequest) -> GraphStore:
    import hashlib

    from agent_memory.storage.postgres import PostgresStore

    url = request.getfixturevalue("postgres_server")  # one real server per session (tests/conftest.py)
    return PostgresStore(url, schema="t_" + hashlib.sha256(str(tmp).encode()).hexdigest()[:16])  # a schema each


BACKENDS: dict[str, Callable[[Path, pytest.FixtureRequest], GraphStore]] = {
    "embedded-exact": _embedded_exact,
    "embedded-chroma": _embedded_chroma,
    "chroma-server": _chroma_server,
    "postgres": _postgres,
}
SLOW = {"chroma-server", "postgres"}


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    from agent_memory.testing.chroma_server import run_chroma_server

    with run_chroma_server(tmp_path_factory.mktemp("chroma-server")) as address:
        yield address


@pytest.fixture(params=[pytest.param(name, marks=[pytest.mark.slow, pytest.mark.server] if name in SLOW else [])
                        for name in BACKENDS])
def store_factory(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreFactory]:
    """Opens stores of one backend (each in a fresh directory); closes them after the test."""
    made: list[GraphStore] = []

    def make() -> GraphStore:
        store = BACKENDS[request.param](tmp_path_factory.mktemp(request.param), request)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> GraphStore:
    return store_factory()
