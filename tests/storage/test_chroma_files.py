"""Embedded Chroma's own files: hnswlib writes a new index's whole capacity from uninitialised heap,
so another user's ids and vectors landed in a fresh collection's ``data_level0.bin``/``length.bin``."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np

from agent_memory.storage.chroma import ChromaIndex
from agent_memory.storage.chroma_files import used_lengths


def vectors(n: int, seed: int) -> np.ndarray:
    matrix = np.random.default_rng(seed).standard_normal((n, 64)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)  # as hnswlib stores them (cosine)


def segment_dirs(index: ChromaIndex, user_id: str) -> list[Path]:
    _, handle = index._collection(user_id, "episode", create=False)
    assert handle is not None and index._files is not None
    return [d for d in index._files.segments(str(handle.id)) if (d / "header.bin").is_file()]


def test_a_new_users_index_files_hold_no_byte_of_what_another_user_wrote_before(tmp_path: Path) -> None:
    index = ChromaIndex.persistent(tmp_path / "chroma")
    jane_ids = [str(uuid.uuid4()) for _ in range(300)]
    jane = vectors(300, 0)
    for kind in ("episode", "fact", "entity"):  # jane's ids and vectors pass through the heap, are freed
        for start in range(0, 300, 100):
            index.upsert("jane", kind, jane_ids[start : start + 100], jane[start : start + 100])
    for start in range(0, 300, 100):  # bob's index is created afterwards
        index.upsert("bob", "episode", [str(uuid.uuid4()) for _ in range(100)], vectors(100, 1 + start))
    bob_dirs = segment_dirs(index, "bob")
    index.close()
    assert bob_dirs
    needles = [i.encode() for i in jane_ids] + [v.tobytes() for v in jane]
    for directory in bob_dirs:
        used = used_lengths(directory)
        assert used is not None
        for name in ("data_level0.bin", "length.bin"):
            data = (directory / name).read_bytes()
            assert not [n for n in needles if n in data], f"jane's bytes in bob's {name}"
            assert data[used[name]:].count(0) == len(data) - used[name]  # capacity past the elements: zeros


def test_scrubbing_after_a_crash_zeroes_residue_and_the_index_still_answers(tmp_path: Path) -> None:
    ids = [str(uuid.uuid4()) for _ in range(1500)]
    matrix = vectors(1500, 2)
    index = ChromaIndex.persistent(tmp_path / "chroma")
    for start in range(0, 1500, 250):  # past Chroma's sync threshold: elements are persisted
        index.upsert("jane", "episode", ids[start : start + 250], matrix[start : start + 250])
    (directory,) = segment_dirs(index, "jane")
    index.close()
    used = used_lengths(directory)
    assert used is not None and used["data_level0.bin"] > 0
    kept = (directory / "data_level0.bin").read_bytes()[: used["data_level0.bin"]]
    with open(directory / "data_level0.bin", "ab") as f:  # what a crash right after hnswlib's init leaves
        f.write(b"residue-of-someone" * 100)

    reopened = ChromaIndex.persistent(tmp_path / "chroma")
    assert reopened.scrub_files() > 0
    data = (directory / "data_level0.bin").read_bytes()
    assert b"residue" not in data and data[: used["data_level0.bin"]] == kept
    assert reopened.scrub_files() == 0  # nothing written since: nothing to do
    assert [reopened.query("jane", "episode", matrix[i], 1)[0][0] for i in range(0, 1500, 97)] == ids[::97]
    reopened.close()


def test_reading_a_collection_in_a_new_process_scrubs_the_index_files_chroma_writes_again(tmp_path: Path) -> None:
    """Chroma rebuilds, on load, an index it never persisted (under 1,000 vectors): hnswlib writes its
    capacity from the heap again, on a read. Those files are scrubbed after the read."""
    index = ChromaIndex.persistent(tmp_path / "chroma")
    for seed, user in enumerate(("jane", "bob")):
        index.upsert(user, "episode", [str(uuid.uuid4()) for _ in range(50)], vectors(50, seed))
    dirs = segment_dirs(index, "jane") + segment_dirs(index, "bob")
    index.close()
    reopened = ChromaIndex.persistent(tmp_path / "chroma")  # as the next process would
    secrets = [f"secret-{i:06d}-".encode() * 40 for i in range(3000)]  # heap (malloc-sized) then freed
    del secrets
    assert len(reopened.query("jane", "episode", vectors(1, 7)[0], 3)) == 3
    assert len(reopened.ids("bob", "episode")) == 50
    for directory in dirs:
        used = used_lengths(directory)
        assert used is not None
        for name in ("data_level0.bin", "length.bin"):
            data = (directory / name).read_bytes()
            assert b"secret-" not in data
            assert data[used[name]:].count(0) == len(data) - used[name], f"heap residue in {directory.name}/{name}"
    reopened.close()
