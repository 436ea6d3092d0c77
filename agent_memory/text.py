"""Pure text helpers shared by storage, ingestion and retrieval: name keys and content words."""

from __future__ import annotations

import functools
import re

__all__ = ["STOPWORDS", "content_words", "normalize_name"]

WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
STOPWORDS = frozenset(
    "a an and are as at be but by did do does for from had has have he her him his how i if in into "
    "is it its me my no not of on or our she so than that the their them then there these they this "
    "to too was we were what when where which who whom why will with would you your yours about can "
    "could should just also any all been being am some such".split()
)


@functools.lru_cache(maxsize=8192)  # a read keys the speaker of every candidate: the same few names
def normalize_name(name: str) -> str:
    """Key for entity-name lookup: case-folded words, no punctuation or leading article."""
    words = WORD.findall(name.casefold())
    if len(words) > 1 and words[0] in ("the", "a", "an", "my"):
        words = words[1:]
    return " ".join(words)


def content_words(text: str, max_terms: int = 32) -> list[str]:
    """The distinct content words of ``text`` (case-folded, no stopwords or single letters), in order."""
    seen: list[str] = []
    for word in WORD.findall(text.casefold()):
        word = word.replace("'", "")
        if len(word) > 1 and word not in STOPWORDS and word not in seen:
            seen.append(word)
            if len(seen) >= max_terms:
                break
    return seen
