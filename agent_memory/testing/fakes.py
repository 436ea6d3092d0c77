"""Fast, deterministic stand-ins for unit tests (no model, no network)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from agent_memory.errors import ConfigError, InvalidInputError

__all__ = ["HashEmbedder"]

_WORD = re.compile(r"\w+", re.UNICODE)


def _bucket(feature: str, dimensions: int) -> tuple[int, float]:
    """A stable (index, sign) for a feature, independent of PYTHONHASHSEED."""
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dimensions, (1.0 if (value >> 63) & 1 else -1.0)


class HashEmbedder:
    """Hashes word unigrams (weight 1) and character trigrams (weight 0.5) into unit vectors.

    Texts that share words score a higher cosine than texts that do not; identical texts score 1.
    """

    name: str = "hash"

    def __init__(self, dimensions: int = 64) -> None:
        """Choose the vector size (at least 8)."""
        if dimensions < 8:
            raise ConfigError(f"HashEmbedder needs at least 8 dimensions, got {dimensions}")
        self.dimensions = dimensions

    def __repr__(self) -> str:
        return f"HashEmbedder(dimensions={self.dimensions})"

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` into a (len(texts), dimensions) float32 array of unit rows."""
        if isinstance(texts, str):
            raise InvalidInputError("embed_batch takes a sequence of texts, not a single string")
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidInputError(f"Texts must be str, got {type(text).__name__}")
            for word in _WORD.findall(text.lower()):
                index, sign = _bucket("w:" + word, self.dimensions)
                out[row, index] += sign
                padded = f"#{word}#"
                for i in range(len(padded) - 2):
                    index, sign = _bucket("c:" + padded[i : i + 3], self.dimensions)
                    out[row, index] += 0.5 * sign
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
            else:  # empty text: a fixed unit vector rather than zeros
                out[row, 0] = 1.0
        return out
