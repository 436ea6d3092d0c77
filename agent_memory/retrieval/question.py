"""What a question says, read from its words alone: the names it may hold, and the kinds of thing it asks for."""

from __future__ import annotations

import re

from ..text import normalize_name

__all__ = ["asked_types", "asks_for_many", "name_grams", "name_phrases", "ngrams", "without"]

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


_AUX = frozenset("do does did has have had is are was were can could would will should might may".split())
_NOT_PLURAL = frozenset("news series species".split())  # shorter ones and -ss/-us/-is words _plural skips
_KIND_OF = frozenset("kind kinds type types sort sorts of".split())


def _plural(word: str) -> bool:
    w = word.casefold()
    return len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")) and w not in _NOT_PLURAL


def asks_for_many(query: str) -> bool:
    """Whether a question asks for a set of things ("What pets does Nate have?", "Which cities has John
    been to?", "What do they both like?"): its answer is gathered from several turns, not read in one."""
    words = _WORDS.findall(query)
    folded = [w.casefold() for w in words]
    if "both" in folded:
        return True
    for i, w in enumerate(folded):
        if w not in ("what", "which"):
            continue
        rest = words[i + 1:i + 6]
        if rest and rest[0].casefold() in ("are", "were") and len(rest) > 1 and rest[1].casefold() == "the":
            rest = rest[2:]  # "What are the skills that ..."
        for j, word in enumerate(rest):
            low = word.casefold()
            if low in _AUX or (j > 0 and word[:1].isupper()):  # a verb, or a name: the noun phrase ended
                break
            if low in _KIND_OF:
                continue
            if _plural(word):
                # "What inspires Joanna": a verb, followed by who does it, not a noun
                nxt = rest[j + 1] if j + 1 < len(rest) else ""
                if j == 0 and (nxt[:1].isupper() or nxt.casefold() in ("the", "a", "an", "her", "his", "their")):
                    break
                return True
    return False
