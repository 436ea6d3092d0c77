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
