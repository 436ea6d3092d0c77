"""What a question says, read from its words alone: the names it may hold, and the kinds of thing it asks for."""

from __future__ import annotations

import re

from ..text import normalize_name

__all__ = ["asked_types", "name_grams", "name_phrases", "ngrams", "without"]

_WORDS = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
# Words by which a question asks for a kind of thing -> the entity types that are such things.
_KINDS = {
    ("Place", "Location"): "city cities country countries place places state states town towns",
    ("Work",): "book books novel novels movie movies film films song songs album albums series",
    ("Animal", "Pet"): "pet pets animal animals dog dogs cat cats",
    ("Organization",): "company companies organization organizations organisation organisations team teams",
    ("Activity",): "activity activities hobby hobbies sport sports",
    ("Event",): "event events",
}
_TYPE_WORDS = {w: types for types, words in _KINDS.items() for w in words.split()}
_POSSESSIVE = re.compile(r"(?<=\w)['’]s\b", re.I)


def ngrams(text: str, n: int = 3, max_words: int = 60) -> list[str]:
    """The 1..n word phrases of the first ``max_words`` words."""
    words = _WORDS.findall(text)[:max_words]
    return [" ".join(words[i : i + k]) for k in range(1, n + 1) for i in range(len(words) - k + 1)]


def name_grams(query: str) -> set[str]:
    """The query's 1-3 word phrases as name keys, possessives dropped ("Melanie's" -> "melanie")."""
    plain = _POSSESSIVE.sub("", query)
    return {normalize_name(g) for g in ngrams(plain, n=3)}


def name_phrases(query: str) -> list[str]:
    """The phrases that may name an entity: as written, and with possessives dropped ("Melanie's")."""
    grams = ngrams(query)
    plain = _POSSESSIVE.sub("", query)
    if plain != query:
        seen = set(grams)
        grams += [g for g in ngrams(plain) if g not in seen]
    return grams


def without(query: str, names: set[str]) -> str:
    """The query with the words of these names removed (possessives too)."""
    drop = {w for n in names for w in n.split()}
    return " ".join(w for w in _WORDS.findall(_POSSESSIVE.sub("", query)) if w.casefold() not in drop)


def asked_types(query: str) -> set[str]:
    """The entity types of the things a question asks for ("which cities" -> Place, Location)."""
    return {t for w in _WORDS.findall(query.casefold()) for t in _TYPE_WORDS.get(w, ())}
