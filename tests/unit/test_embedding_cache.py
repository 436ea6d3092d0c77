"""The quantized default's build cache (built once, verified, atomic) and the embed-once text cache."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from agent_memory.embedding import _quantize
from agent_memory.embedding.cache import CachedEmbedder, cached
from agent_memory.embedding.minilm import MINILM_SHA256, model_paths
from agent_memory.errors import InvalidInputError
from agent_memory.testing.fakes import HashEmbedder


class CountingEmbedder(HashEmbedder):
    """A HashEmbedder that records every batch it is asked to embed."""

    def __init__(self) -> None:
        super().__init__(64)
        self.calls: list[list[str]] = []

    def embed_batch(self, texts):  # type: ignore[no-untyped-def]
        self.calls.append(list(texts))
        return super().embed_batch(texts)


def test_each_distinct_text_reaches_the_model_once() -> None:
    inner = CountingEmbedder()
    embedder = CachedEmbedder(inner)
    first = embedder.embed_batch(["Denver", "Acme", "Denver"])
    again = embedder.embed_batch(["Acme", "Priya", "Denver"])
    assert inner.calls == [["Denver", "Acme"], ["Priya"]]  # duplicates within and across calls: once
    np.testing.assert_array_equal(first, HashEmbedder(64).embed_batch(["Denver", "Acme", "Denver"]))
    np.testing.assert_array_equal(again[[0, 2]], first[[1, 0]])
    assert (embedder.hits, embedder.misses) == (3, 3)
    assert (embedder.name, embedder.dimensions) == ("hash", 64)
    assert embedder.embed_batch([]).shape == (0, 64)


def test_the_cache_is_bounded_and_keeps_the_recently_used() -> None:
    inner = CountingEmbedder()
    embedder = CachedEmbedder(inner, max_items=2)
    embedder.embed_batch(["a", "b"])
    embedder.embed_batch(["a"])  # "a" is now the most recent
    embedder.embed_batch(["c"])  # evicts "b"
    embedder.embed_batch(["a", "b"])
    assert inner.calls[-1] == ["b"]


def test_returned_vectors_can_be_changed_without_poisoning_the_cache() -> None:
    embedder = CachedEmbedder(HashEmbedder(64))
    first = embedder.embed_batch(["Denver"])
    first *= 0
    assert np.linalg.norm(embedder.embed_batch(["Denver"])[0]) == pytest.approx(1.0)


def test_cache_refuses_bad_input_and_wraps_once() -> None:
    embedder = cached(HashEmbedder(64))
    assert cached(embedder) is embedder
    with pytest.raises(InvalidInputError):
        embedder.embed_batch("Denver")
    with pytest.raises(InvalidInputError):
        CachedEmbedder(HashEmbedder(64), max_items=0)


def test_cache_is_safe_under_concurrent_callers() -> None:
    embedder = CachedEmbedder(HashEmbedder(64), max_items=50)
    texts = [f"text {i}" for i in range(200)]
    expected = HashEmbedder(64).embed_batch(texts)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for start in range(offset, 200, 20):
                np.testing.assert_array_equal(embedder.embed_batch(texts[start : start + 20]),
                                              expected[start : start + 20])
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i * 10 % 20,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(embedder._vectors) <= 50


def test_cache_dir_honours_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AGENT_MEMORY_CACHE_DIR", str(tmp_path / "models"))
    assert _quantize.cache_dir() == tmp_path / "models"
    monkeypatch.delenv("AGENT_MEMORY_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert _quantize.cache_dir() == tmp_path / "xdg" / "agent-memory"


@pytest.mark.slow
def test_quantized_model_is_built_once_verified_and_rebuilt_when_corrupt(tmp_path: Path) -> None:
    source, _ = model_paths()
    built = _quantize.quantized_model(source, MINILM_SHA256, tmp_path)
    stamp = built.with_name("model.onnx.sha256").read_text().strip()
    assert _quantize.file_sha256(built) == stamp
    mtime = built.stat().st_mtime_ns
    assert _quantize.quantized_model(source, MINILM_SHA256, tmp_path) == built
    assert built.stat().st_mtime_ns == mtime  # reused, not rebuilt
    with built.open("r+b") as handle:  # a flipped byte in the cached copy
        handle.seek(4096)
        byte = handle.read(1)
        handle.seek(4096)
        handle.write(bytes([byte[0] ^ 0xFF]))
    rebuilt = _quantize.quantized_model(source, MINILM_SHA256, tmp_path)
    assert _quantize.file_sha256(rebuilt) == rebuilt.with_name("model.onnx.sha256").read_text().strip()
    assert sorted(p.name for p in tmp_path.iterdir()) == [built.parent.name]  # no temporary leftovers


@pytest.mark.slow
def test_two_processes_building_at_once_both_get_one_whole_copy(tmp_path: Path) -> None:
    code = ("import sys; from agent_memory.embedding.minilm import MiniLMEmbedder; "
            "print(MiniLMEmbedder(intra_op_num_threads=1).embed_batch(['I moved to Denver'])[0][:4].tolist())")
    env = {**os.environ, "AGENT_MEMORY_CACHE_DIR": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    (folder,) = list(tmp_path.iterdir())  # one copy, no temporary directories left behind
    assert _quantize._verified(folder) is not None
    first, second = (np.array(eval(out)) for out, _ in outs)  # noqa: S307 - our own printed list
    np.testing.assert_allclose(first, second, atol=1e-6)


@pytest.mark.slow
def test_an_unwritable_cache_builds_per_process_with_a_warning(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    source, _ = model_paths()
    _quantize._fallback.clear()
    with caplog.at_level("WARNING", logger="agent_memory.embedding._quantize"):
        built = _quantize.quantized_model(source, MINILM_SHA256, blocker / "cache")
    assert built.is_file() and "AGENT_MEMORY_CACHE_DIR" in caplog.text
    assert _quantize.quantized_model(source, MINILM_SHA256, blocker / "cache") == built  # once per process


def test_the_pipeline_embeds_each_text_once_and_observations_keep_their_text() -> None:
    from agent_memory import Memory, Message
    from agent_memory.testing.extractors import TripleExtractor

    inner = CountingEmbedder()
    with Memory.ephemeral(embedder=inner, extractor=TripleExtractor()) as mem:
        mem.user.add(user_id="jane", first_name="Jane")
        for n in range(4):  # Denver comes back in every thread: its observation is refreshed each time
            mem.thread.create(thread_id=f"t{n}", user_id="jane")
            mem.thread.add_messages(f"t{n}", messages=[
                Message(role="user", content="I | LIVES_IN | Denver"),
                Message(role="user", content=f"I | LIKES | hobby {n}")])
        ingested = [t for call in inner.calls for t in call]
        [obs] = [o for o in mem.graph.observations(user_id="jane") if "Denver" in o.text]
        mem.context.create_context_template(template_id="obs", template="%{observations}")
        context = mem.context.get(user_id="jane", query="Denver", template_id="obs").context
    assert len(ingested) == len(set(ingested))  # no text reached the model twice
    assert obs.text == "Jane keeps coming back to Denver (Topic)" and obs.count == 4 and len(obs.sessions) == 4
    assert f"Jane keeps coming back to Denver (Topic): 4 mentions in 4 sessions, {obs.first_seen:%Y-%m-%d}" in context
