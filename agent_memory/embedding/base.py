"""The Embedder protocol: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import InvalidInputError

__all__ = ["Embedder", "check_texts", "embed_one"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors; one required method, capabilities as attributes."""

    name: str
    dimensions: int

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dimensions), float32, each row L2-normalised."""
        ...


def embed_one(embedder: Embedder, text: str) -> np.ndarray:
    """Embed a single text (a convenience over ``embed_batch``)."""
    return embedder.embed_batch([text])[0]


def check_texts(texts: Sequence[str]) -> list[str]:
    """The texts as a list; refuses a bare string (a common slip) and non-string items."""
    if isinstance(texts, str):
        raise InvalidInputError("embed_batch takes a sequence of texts, not a single string")
    items = list(texts)
    for item in items:
        if not isinstance(item, str):
            raise InvalidInputError(f"Texts must be str, got {type(item).__name__}")
    return items
