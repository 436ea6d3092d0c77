"""The VectorIndex behaviour suite against a real ``chroma run`` server on 127.0.0.1."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from agent_memory.storage.chroma import ChromaIndex
from agent_memory.testing.chroma_server import run_chroma_server

pytestmark = [pytest.mark.slow, pytest.mark.server]

# Re-collect the shared behaviour tests here; they take their ``index`` fixture from this module.
_UNIT_DIR = str(Path(__file__).resolve().parents[1] / "unit")
if _UNIT_DIR not in sys.path:
    sys.path.insert(0, _UNIT_DIR)
_suite = importlib.import_module("test_vector_index")
globals().update({name: getattr(_suite, name) for name in _suite.SHARED})
basis = _suite.basis


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    with run_chroma_server(tmp_path_factory.mktemp("chroma-server")) as address:
        yield address


@pytest.fixture
def index(server: tuple[str, int], request: pytest.FixtureRequest) -> Iterator[ChromaIndex]:
    host, port = server
    made = ChromaIndex.http(host, port)
    yield made
    for user in ("alice", "bob", "carol", "nobody"):  # the server outlives each test: clean up
        made.delete_user(user)
    made.close()


def test_a_second_client_sees_the_same_vectors(index: ChromaIndex, server: tuple[str, int]) -> None:
    index.upsert("alice", "fact", ["x", "y"], np.stack([basis(0), basis(1)]))
    other = ChromaIndex.http(*server)
    try:
        assert other.query("alice", "fact", basis(1), k=1)[0][0] == "y"
        other.delete_user("alice")
        assert index.count("alice", "fact") == 0  # a stale cached handle is not an error
        index.upsert("alice", "fact", ["z"], basis(2).reshape(1, -1))
        assert other.query("alice", "fact", basis(2), k=5) == [("z", pytest.approx(1.0, abs=1e-5))]
    finally:
        other.close()


def test_server_stops_when_the_block_exits(tmp_path: Path) -> None:
    from agent_memory.errors import StorageError

    with run_chroma_server(tmp_path) as (host, port):
        ChromaIndex.http(host, port).close()
    with pytest.raises(StorageError):
        ChromaIndex.http(host, port)
