"""Named spans and noun phrases for the offline extractor: who and what a sentence names.

Mentions are spaCy's NER entities plus proper-noun runs it missed (their type guessed from the
parse); ``noun_phrase`` and ``canonical_name`` turn a head token into the name a fact uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ._lexicon import FAMILY, FILLER_ADJECTIVES, FIRST_PERSON, JUNK_HEADS, NER_TYPES, NON_NAMES, PETS, SECOND_PERSON

__all__ = ["Mention", "build_mentions", "canonical_name", "is_junk", "noun_phrase"]

Token = Any  # spacy.tokens.Token; spaCy is imported lazily, so only used as an annotation

_SUBJ_DEPS = ("nsubj", "nsubjpass")
_LEADING_DROP = frozenset({"det", "poss", "nummod", "predet", "case", "quantmod"})


@dataclass(frozen=True)
class Mention:
    """A named span: an NER entity or a proper-noun run spaCy's NER missed."""

    start: int
    end: int
    name: str
    type: str
    guessed: bool = False  # a proper-noun run spaCy's NER did not name (its type is guessed from the parse)


def canonical_name(tokens: list[Token], *, keep_the: bool = False) -> str:
    """Name a phrase: drop leading determiners/possessives/fillers and a trailing "'s".

    With ``keep_the``, a capitalised "The" inside a sentence stays ("The Matrix").
    """
    def droppable(tok: Token) -> bool:
        glued = not tok.whitespace_  # "5" in "5K", "one" in "one-on-one"
        return tok.dep_ in _LEADING_DROP and not glued and (tok.dep_ != "poss" or tok.pos_ == "PRON")

    words = list(tokens)
    if keep_the and words and words[0].text == "The" and not words[0].is_sent_start:
        return re.sub(r"\s+", " ", "".join(w.text_with_ws for w in words)).strip(" -'\".,!?")
    while words and (
        droppable(words[0])
        or words[0].lower_ in FIRST_PERSON
        or words[0].lower_ in SECOND_PERSON
        or words[0].lower_ in ("the", "a", "an", "this", "that", "some", "his", "her", "their")
        or (words[0].lower_ in FILLER_ADJECTIVES and len(words) > 1)
        or words[0].is_punct
    ):
        words = words[1:]
    while words and (words[-1].is_punct or words[-1].lower_ in ("'s", "'")):
        words = words[:-1]
    text = "".join(w.text_with_ws for w in words).strip()
    return re.sub(r"\s+", " ", text).strip(" -'\"")


def _propn_type(root: Token) -> str:
    """Guess the type of a proper noun spaCy's NER missed from where it sits in the parse."""
    head = root.head
    if root.dep_ == "pobj" and head.lower_ == "with":
        return "Person"
    if root.dep_ in ("appos", "compound") and head.lemma_.lower() in FAMILY:
        return "Person"
    if root.dep_ == "oprd" and head.lemma_ == "name":
        noun = head.head
        return "Animal" if noun.lemma_.lower() in PETS else "Person"
    if root.dep_ == "poss" or (root.dep_ in _SUBJ_DEPS and head.pos_ == "VERB"):
        return "Person"
    if root.dep_ in ("npadvmod", "intj", "dep", "vocative") or root.head.i == root.i:
        return "Person"
    return "Topic"


def _propn_runs(doc: Any, taken: set[int]) -> Iterator[tuple[int, int]]:
    i = 0
    while i < len(doc):
        tok = doc[i]
        if tok.pos_ == "PROPN" and i not in taken and tok.text[:1].isupper():
            j = i
            while j + 1 < len(doc) and doc[j + 1].pos_ == "PROPN" and j + 1 not in taken:
                j += 1
            yield i, j + 1
            i = j + 1
        else:
            i += 1


def build_mentions(doc: Any) -> dict[int, Mention]:
    """Token index -> Mention, for NER entities (mapped types) and missed proper-noun runs."""
    out: dict[int, Mention] = {}
    taken: set[int] = set()
    for ent in doc.ents:
        taken.update(range(ent.start, ent.end))
        etype = NER_TYPES.get(ent.label_)
        words = list(ent)
        if etype == "Person":  # "Tom last June": a name stops at its first lower-case word
            cut = next((k for k, t in enumerate(words) if k and t.is_lower), len(words))
            words = words[:cut]
        name = canonical_name(words, keep_the=etype in ("Work", "Organization", "Event", "Group"))
        if etype and name and name.lower() not in NON_NAMES:
            mention = Mention(ent.start, ent.start + len(words), name, etype)
            out.update({i: mention for i in range(mention.start, mention.end)})
    for start, end in _propn_runs(doc, taken):
        root = doc[end - 1]
        if root.dep_ in ("compound", "amod") and root.head.pos_ == "NOUN":
            continue  # "LGBTQ" in "an LGBTQ support group" names no entity of its own
        words = [t for t in doc[start:end] if t.lower_ not in NON_NAMES and t.is_alpha]
        if not words or words[0].i != start or len("".join(w.text for w in words)) < 2:
            continue
        name = canonical_name(words)
        if name:
            mention = Mention(start, end, name, _propn_type(doc[end - 1]), guessed=True)
            out.update({i: mention for i in range(start, end)})
    return out


def noun_phrase(tok: Token) -> list[Token]:
    """The tokens of the noun phrase headed by ``tok`` (modifiers, compounds, an "of" phrase)."""
    words: set[int] = {tok.i}
    for child in tok.lefts:
        if child.dep_ in ("det", "poss", "amod", "compound", "nummod", "nmod", "quantmod", "predet"):
            words.update(t.i for t in child.subtree)
    for child in tok.rights:
        if child.dep_ == "prep" and child.lower_ == "of":
            for obj in child.children:
                if obj.dep_ == "pobj":
                    words.add(child.i)
                    words.update(t.i for t in noun_phrase(obj))
        elif child.dep_ == "compound":
            words.add(child.i)
    doc = tok.doc
    return [doc[i] for i in sorted(words)]


def is_junk(tok: Token) -> bool:
    """A head that makes no fact target: a pronoun, a stop word or a vague noun."""
    return (
        tok.pos_ not in ("NOUN", "PROPN")
        or tok.lower_ in JUNK_HEADS
        or tok.lemma_.lower() in JUNK_HEADS
        or not any(ch.isalpha() for ch in tok.text)
    )
