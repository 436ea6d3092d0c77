"""Targets and drafts for the offline extractor's relation rules: naming what a clause is about."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from ._lexicon import PETS, TITLE_ADJECTIVES
from ._mentions import Mention, canonical_name, is_junk, noun_phrase

__all__ = [
    "lemma",
    "token_ids",
    "Draft",
    "PrepObj",
    "Target",
    "anaphoric",
    "city_names",
    "dobj",
    "is_org",
    "named_target",
    "plain_title",
    "prep",
    "preps",
    "target_of",
    "verb_like_list_item",
    "with_conj",
]

Token = Any
_ORG_SUFFIXES = ("inc", "inc.", "corp", "corp.", "co", "co.", "llc", "ltd", "ltd.", "gmbh", "plc", "company")


@dataclass
class Target:
    """A fact's object: its canonical name, type and the tokens that show it in the sentence."""

    name: str
    type: str
    tokens: set[int]
    named: bool


@dataclass
class Draft:
    """A fact before assembly: relation, target and the extra tokens of its sentence."""

    relation: str
    target: Target
    tokens: set[int] = field(default_factory=set)
    ends: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)


def lemma(tok: Token) -> str:
    """A token's lemma, lower-cased."""
    return str(tok.lemma_).lower()


def token_ids(tokens: list[Token]) -> set[int]:
    """The document positions of some tokens."""
    return {t.i for t in tokens}


def target_of(tok: Token, mentions: dict[int, Mention], *, type_hint: str | None = None) -> Target | None:
    """The target named by a noun phrase headed by ``tok``, or None for pronouns and vague nouns."""
    phrase = noun_phrase(tok)
    ids = {t.i for t in phrase}
    mention = mentions.get(tok.i)
    if mention is not None:
        ids |= set(range(mention.start, mention.end))
        return Target(mention.name, type_hint or mention.type, ids, True)
    if is_junk(tok):
        return None
    name = canonical_name(phrase)
    if not name or len(name) > 60 or name.lower() in ("job", "work", "place"):
        return None
    activity = tok.tag_ == "VBG" or (tok.pos_ == "NOUN" and tok.lower_.endswith("ing") and len(phrase) == 1)
    etype = type_hint or ("Animal" if tok.lemma_.lower() in PETS else "Activity" if activity else "Topic")
    return Target(name, etype, ids, tok.pos_ == "PROPN")


class PrepObj(NamedTuple):
    """A prepositional object: the preposition words' token ids and the object's head token."""

    ids: set[int]
    obj: Token


def with_conj(tok: Token) -> list[Token]:
    """A head and the heads conjoined after it ("pottery and hiking")."""
    return [tok, *[c for c in tok.conjuncts if c.i > tok.i]]


def dobj(verb: Token) -> Token | None:
    """The direct object of a verb, if any."""
    return next((c for c in verb.children if c.dep_ in ("dobj", "obj")), None)


def preps(tok: Token) -> list[tuple[str, PrepObj]]:
    """(preposition words, object) under ``tok``: "to", and two-word ones like "out of", "away from"."""
    out: list[tuple[str, PrepObj]] = []
    for p in tok.children:
        if p.dep_ not in ("prep", "dative", "agent", "advmod", "prt"):
            continue
        obj = next((c for c in p.children if c.dep_ == "pobj"), None)
        if obj is not None and p.dep_ != "advmod":
            out.append((p.lower_, PrepObj({p.i}, obj)))
        for q in p.children:
            inner = next((c for c in q.children if c.dep_ == "pobj"), None) if q.dep_ == "prep" else None
            if inner is not None:
                out.append((f"{p.lower_} {q.lower_}", PrepObj({p.i, q.i}, inner)))
    return out


def prep(tok: Token | None, *words: str) -> PrepObj | None:
    """The first prepositional object under ``tok`` introduced by one of ``words``."""
    if tok is None:
        return None
    return next((po for w, po in preps(tok) if w in words), None)


def is_org(target: Target, tok: Token) -> bool:
    """An organisation by NER, or a name ending in Inc/Corp/LLC/..."""
    last = tok.doc[max(target.tokens)].lower_ if target.tokens else ""
    return target.type == "Organization" or (target.named and last in _ORG_SUFFIXES)


def named_target(tok: Token, mentions: dict[int, Mention], etype: str) -> Target | None:
    """A target that must be a proper name (cities, employers, schools), typed by the frame."""
    target = target_of(tok, mentions)
    if target is None or not target.named or target.type == "Person":
        return None
    target.type = etype
    return target


@lru_cache(maxsize=1)
def city_names() -> frozenset[str]:
    """City names from the IANA time-zone database: enough to tell "left Denver" from "left Acme"."""
    try:
        import zoneinfo

        zones = zoneinfo.available_timezones()
        return frozenset(z.rsplit("/", 1)[-1].replace("_", " ").lower() for z in zones)
    except Exception:  # pragma: no cover - tz data missing
        return frozenset()


def anaphoric(head: Token, target: Target | None = None, *, strict: bool = True) -> bool:
    """"that book", "his tech" (when strict, also "the color"): it points back into the conversation."""
    if target is not None and target.named:
        return False
    dets = [c for c in head.lefts if c.dep_ in ("det", "poss")]
    if any(d.lower_ in ("this", "that", "these", "those", "his", "her", "its", "their") for d in dets):
        return True
    bare = target is None or len(target.name.split()) == 1
    return strict and bare and any(d.lower_ == "the" for d in dets)


def plain_title(noun: Token) -> bool:
    """"a nurse", "a senior software engineer"; not "no writer" or "such an inspiring writer"."""
    for child in noun.lefts:
        if child.dep_ == "det" and child.lower_ not in ("a", "an"):
            return False
        opinion = child.dep_ == "amod" and child.lower_ not in TITLE_ADJECTIVES
        if child.dep_ in ("predet", "advmod") or opinion:
            return False
    return True


def verb_like_list_item(tok: Token) -> bool:
    """A list item that is likely a mis-parsed verb phrase: "watch movies, hike, and ...",
    "explored nature, roasted marshmallows ...".
    """
    lefts = list(tok.lefts)
    if tok.tag_ == "NN" and not any(c.dep_ in ("det", "poss", "amod", "compound", "nummod") for c in lefts):
        return True
    first = lefts[0] if lefts else tok
    after_comma = first.i > 0 and first.nbor(-1).text == ","
    return after_comma and first.dep_ == "amod" and first.lower_.endswith("ed")
