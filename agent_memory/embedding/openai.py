"""Embedder over the OpenAI embeddings API (or any OpenAI-compatible server via ``base_url``)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from agent_memory.errors import (
    ConfigError,
    DimensionMismatchError,
    EmbeddingError,
    InvalidInputError,
    MissingDependencyError,
    ProviderError,
    RateLimitError,
)

__all__ = ["OpenAIEmbedder"]

_PIP = "pip install 'agent-memory[openai]'"


def _import_openai() -> Any:
    """Import the openai package or raise MissingDependencyError."""
    try:
        import openai
    except ImportError as exc:
        raise MissingDependencyError(f"OpenAIEmbedder needs the openai package: {_PIP}") from exc
    return openai


class OpenAIEmbedder:
    """Remote embeddings (default ``text-embedding-3-small``), up to ``batch_size`` texts per request.

    If ``dimensions`` is given it is sent to the API (text-embedding-3 models shorten their vectors)
    and checked; if not, ``dimensions`` is 0 until the first response sets it. Rows are L2-normalised.
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        api_key: str | None = None,
        base_url: str | None = None,
        dimensions: int | None = None,
        client: Any = None,
        *,
        batch_size: int = 256,
    ) -> None:
        """Build (or take) an ``openai.OpenAI`` client; no request is made here."""
        if dimensions is not None and dimensions < 1:
            raise ConfigError(f"dimensions must be positive, got {dimensions}")
        if not 1 <= batch_size <= 2048:
            raise ConfigError(f"batch_size must be within 1..2048, got {batch_size}")
        openai = _import_openai()
        if client is None:
            try:
                client = openai.OpenAI(api_key=api_key, base_url=base_url)
            except openai.OpenAIError as exc:
                raise ConfigError(f"Could not create the OpenAI client (set OPENAI_API_KEY?): {exc}") from exc
        self.model = model
        self.client = client
        self.batch_size = batch_size
        self._requested_dimensions = dimensions
        self.dimensions: int = dimensions or 0
        self.name = f"openai:{model}" + (f":{dimensions}" if dimensions else "")
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OpenAIEmbedder(model={self.model!r}, dimensions={self.dimensions})"

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` into a (len(texts), dimensions) float32 array of unit rows, in order."""
        if isinstance(texts, str):
            raise InvalidInputError("embed_batch takes a sequence of texts, not a single string")
        items = list(texts)
        for item in items:
            if not isinstance(item, str):
                raise InvalidInputError(f"Texts must be str, got {type(item).__name__}")
        if not items:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        # The API rejects empty strings; a single space embeds as "nothing" just as well.
        items = [item if item.strip() else " " for item in items]
        parts = [self._request(items[i : i + self.batch_size]) for i in range(0, len(items), self.batch_size)]
        vectors = np.concatenate(parts, axis=0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

    def _request(self, batch: list[str]) -> np.ndarray:
        """One embeddings request; provider errors are translated to ours."""
        openai = _import_openai()
        kwargs: dict[str, Any] = {"model": self.model, "input": batch, "encoding_format": "float"}
        if self._requested_dimensions:
            kwargs["dimensions"] = self._requested_dimensions
        try:
            response = self.client.embeddings.create(**kwargs)
        except openai.RateLimitError as exc:
            raise RateLimitError(f"OpenAI rate limit for {self.model}: {exc}", model=self.model) from exc
        except openai.APIError as exc:
            raise ProviderError(f"OpenAI embeddings request failed: {exc}", model=self.model) from exc
        except openai.OpenAIError as exc:
            raise ProviderError(f"OpenAI client error: {exc}", model=self.model) from exc
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(batch):
            raise EmbeddingError(f"Asked for {len(batch)} embeddings, the provider returned {len(data)}")
        vectors = np.asarray([item.embedding for item in data], dtype=np.float32)
        if vectors.ndim != 2:
            raise EmbeddingError("The provider returned embeddings of unequal length")
        self._check_dimensions(vectors.shape[1])
        return vectors

    def _check_dimensions(self, got: int) -> None:
        """Learn the dimension from the first response; refuse later responses that differ."""
        with self._lock:
            if self.dimensions == 0:
                self.dimensions = got
                return
        if got != self.dimensions:
            raise DimensionMismatchError(
                f"{self.model} returned {got}-d vectors, expected {self.dimensions}-d",
                expected=self.dimensions,
                got=got,
            )
