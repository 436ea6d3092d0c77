"""One behaviour suite for every VectorIndex: ExactIndex, embedded Chroma (memory and disk).

tests/integration/test_chroma_server.py reruns the ``test_`` functions marked ``SHARED`` against a
real Chroma server by supplying its own ``index`` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from agent_memory.errors import DimensionMismatchError
from agent_memory.storage.chroma import ChromaIndex
from agent_memory.storage.inmemory import ExactIndex
from agent_memory.storage.vectors import KINDS, VectorIndex

DIM = 8


def unit(*values: float) -> np.ndarray:
    """A unit vector of DIM dims starting with ``values``."""
    vector = np.zeros(DIM, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def basis(i: int) -> np.ndarray:
    """The i-th standard basis vector."""
    return unit(*([0.0] * i + [1.0]))


@pytest.fixture(params=["exact", "chroma-ephemeral", "chroma-persistent"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorIndex]:
    made: VectorIndex
    if request.param == "exact":
        made = ExactIndex()
    elif request.param == "chroma-ephemeral":
        made = ChromaIndex.ephemeral()
    else:
        made = ChromaIndex.persistent(tmp_path / "chroma")
    yield made
    made.close()


def test_upsert_then_query_returns_nearest_first(index: VectorIndex) -> None:
    assert isinstance(index, VectorIndex)
    index.upsert("alice", "fact", ["x", "y", "z"], np.stack([basis(0), unit(1, 1), basis(1)]))
    hits = index.query("alice", "fact", basis(0), k=3)
    assert [h[0] for h in hits] == ["x", "y", "z"]
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert hits[1][1] == pytest.approx(np.sqrt(0.5), abs=1e-5)
    assert hits[2][1] == pytest.approx(0.0, abs=1e-5)
    assert index.count("alice", "fact") == 3


def test_upsert_replaces_an_existing_id(index: VectorIndex) -> None:
    index.upsert("alice", "fact", ["x", "y"], np.stack([basis(0), basis(1)]))
    index.upsert("alice", "fact", ["x"], basis(2).reshape(1, -1))
    assert index.count("alice", "fact") == 2
    assert index.query("alice", "fact", basis(2), k=1)[0][0] == "x"
    assert index.query("alice", "fact", basis(0), k=1)[0][1] < 0.5


def test_delete_removes_ids_and_ignores_missing_ones(index: VectorIndex) -> None:
    index.upsert("alice", "fact", ["x", "y"], np.stack([basis(0), basis(1)]))
    index.delete("alice", "fact", ["x", "never-stored"])
    index.delete("nobody", "fact", ["x"])
    assert index.count("alice", "fact") == 1
    assert [h[0] for h in index.query("alice", "fact", basis(0), k=5)] == ["y"]


def test_users_never_see_each_others_vectors(index: VectorIndex) -> None:
    index.upsert("alice", "fact", ["a1", "a2"], np.stack([basis(0), basis(1)]))
    index.upsert("bob", "fact", ["b1"], basis(0).reshape(1, -1))
    assert [h[0] for h in index.query("bob", "fact", basis(0), k=10)] == ["b1"]
    assert {h[0] for h in index.query("alice", "fact", basis(0), k=10)} == {"a1", "a2"}
    assert index.query("carol", "fact", basis(0), k=10) == []


def test_kinds_are_separate(index: VectorIndex) -> None:
    index.upsert("alice", "fact", ["f"], basis(0).reshape(1, -1))
    index.upsert("alice", "entity", ["e"], basis(0).reshape(1, -1))
    assert [h[0] for h in index.query("alice", "entity", basis(0), k=10)] == ["e"]
    assert index.count("alice", "episode") == 0
    assert index.query("alice", "episode", basis(0), k=10) == []


def test_delete_user_removes_every_kind_and_only_that_user(index: VectorIndex) -> None:
    for kind in KINDS:
        index.upsert("alice", kind, ["a"], basis(0).reshape(1, -1))
    index.upsert("bob", "fact", ["b"], basis(0).reshape(1, -1))
    index.delete_user("alice")
    index.delete_user("alice")  # twice, and for users that never existed: no error
    index.delete_user("nobody")
    for kind in KINDS:
        assert index.count("alice", kind) == 0
        assert index.query("alice", kind, basis(0), k=5) == []
    assert index.count("bob", "fact") == 1
    index.upsert("alice", "fact", ["again"], basis(1).reshape(1, -1))  # the user can start over
    assert index.query("alice", "fact", basis(1), k=5)[0][0] == "again"


def test_k_larger_than_count_returns_everything(index: VectorIndex) -> None:
    index.upsert("alice", "fact", ["x", "y"], np.stack([basis(0), basis(1)]))
    assert len(index.query("alice", "fact", basis(0), k=50)) == 2
    assert index.query("alice", "fact", basis(0), k=0) == []


def test_query_many_answers_each_row_like_query(index: VectorIndex) -> None:
    index.upsert("alice", "entity", ["x", "y", "z"], np.stack([basis(0), unit(1, 1), basis(1)]))
    queries = np.stack([basis(0), basis(1), basis(2)])
    assert index.query_many("alice", "entity", queries, 2) == [index.query("alice", "entity", q, 2) for q in queries]
    assert index.query_many("bob", "entity", queries, 2) == [[], [], []]  # nothing of alice's, no error


def test_dimension_mismatch_names_both_dimensions(index: VectorIndex) -> None:
    index.upsert("alice", "fact", ["x"], basis(0).reshape(1, -1))
    with pytest.raises(DimensionMismatchError, match=rf"(?=.*\b{DIM}\b)(?=.*\b5\b)"):
        index.upsert("alice", "fact", ["y"], np.ones((1, 5), dtype=np.float32))
    with pytest.raises(DimensionMismatchError, match=rf"(?=.*\b{DIM}\b)(?=.*\b3\b)"):
        index.query("alice", "fact", np.ones(3, dtype=np.float32), k=1)
    assert index.count("alice", "fact") == 1


def test_larger_collection_ranks_the_true_neighbour_first(index: VectorIndex) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, DIM)).astype(np.float32)
    ids = [f"v{i}" for i in range(500)]
    index.upsert("alice", "episode", ids, vectors)
    for probe in (0, 123, 499):
        assert index.query("alice", "episode", vectors[probe], k=20)[0][0] == f"v{probe}"


SHARED = [name for name in dir() if name.startswith("test_")]


# -- Chroma-only behaviour ----------------------------------------------------------------


def test_persistent_index_survives_reopening(tmp_path: Path) -> None:
    first = ChromaIndex.persistent(tmp_path)
    first.upsert("alice", "fact", ["x", "y"], np.stack([basis(0), basis(1)]))
    first.close()
    second = ChromaIndex.persistent(tmp_path)
    try:
        assert second.count("alice", "fact") == 2
        assert second.query("alice", "fact", basis(1), k=1)[0][0] == "y"
    finally:
        second.close()


def test_chroma_stores_no_text_and_no_clear_user_id(tmp_path: Path) -> None:
    index = ChromaIndex.persistent(tmp_path)
    try:
        index.upsert("alice@example.com", "fact", ["x"], basis(0).reshape(1, -1))
        client = index._client
        names = [c.name for c in client.list_collections()]
        assert names and not any("alice" in name for name in names)
        stored = client.get_collection(names[0], embedding_function=None).get(
            include=["documents", "metadatas"]
        )
        assert stored["documents"] == [None] and stored["metadatas"] == [None]
    finally:
        index.close()
    assert not any(b"alice" in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())


def test_ephemeral_chroma_indexes_are_isolated() -> None:
    first, second = ChromaIndex.ephemeral(), ChromaIndex.ephemeral()
    try:
        first.upsert("alice", "fact", ["x"], basis(0).reshape(1, -1))
        assert second.count("alice", "fact") == 0
    finally:
        first.close()
        second.close()


def test_delete_user_leaves_no_vector_files_on_disk(tmp_path: Path) -> None:
    index = ChromaIndex.persistent(tmp_path)
    try:
        vectors = np.random.default_rng(0).normal(size=(1200, DIM)).astype(np.float32)
        index.upsert("alice", "fact", [f"v{i}" for i in range(1200)], vectors)
        index.upsert("bob", "fact", ["b"], basis(0).reshape(1, -1))
        before = {p.name for p in tmp_path.iterdir() if p.is_dir()}
        index.delete_user("alice")
        after = {p.name for p in tmp_path.iterdir() if p.is_dir()}
        assert before - after and after < before  # alice's segment directories are gone
        assert index.count("bob", "fact") == 1
    finally:
        index.close()
