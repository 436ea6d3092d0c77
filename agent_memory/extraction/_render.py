"""Verb forms and fact sentences for the offline extractor.

A fact sentence is rebuilt from the clause's own tokens, with "I"/"you" replaced by a name and
the verb agreed with it: "I'm a nurse" -> "Jane Smith is a nurse."
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ._lexicon import CLITIC_3SG, FIRST_PERSON, IRREGULAR_PAST, SECOND_PERSON

__all__ = [
    "auxiliaries", "gerund", "past_form", "render_clause", "state_sentence", "third_person_singular", "verb_lemma",
]

Token = Any
_VOWELS = set("aeiou")
_CLITIC_START = ("'", "’")


def _doubles(word: str) -> bool:
    """One-syllable consonant-vowel-consonant verbs double their last letter (stop -> stopped)."""
    vowels = sum(1 for ch in word if ch in _VOWELS)
    return (
        len(word) >= 3
        and vowels == 1
        and word[-1] not in _VOWELS | {"w", "x", "y"}
        and word[-2] in _VOWELS
        and word[-3] not in _VOWELS
    )


def past_form(lemma: str) -> str:
    """The simple past of a verb lemma: go -> went, attend -> attended, stop -> stopped."""
    word = lemma.lower()
    if word in IRREGULAR_PAST:
        return IRREGULAR_PAST[word]
    if word.endswith("e"):
        return word + "d"
    if word.endswith("y") and len(word) > 1 and word[-2] not in _VOWELS:
        return word[:-1] + "ied"
    if _doubles(word):
        return word + word[-1] + "ed"
    return word + "ed"


def gerund(lemma: str) -> str:
    """The -ing form of a verb lemma: paint -> painting, hike -> hiking, swim -> swimming."""
    word = lemma.lower()
    if word.endswith("ie"):
        return word[:-2] + "ying"
    if word.endswith("e") and not word.endswith(("ee", "ye", "oe")) and len(word) > 2:
        return word[:-1] + "ing"
    if _doubles(word):
        return word + word[-1] + "ing"
    return word + "ing"


def third_person_singular(word: str) -> str:
    """Present tense agreed with a third-person name: work -> works, go -> goes, try -> tries."""
    low = word.lower()
    if low in CLITIC_3SG:
        return CLITIC_3SG[low]
    if low.endswith(("s", "sh", "ch", "x", "z", "o")):
        return word + "es"
    if low.endswith("y") and len(low) > 1 and low[-2] not in _VOWELS:
        return word[:-1] + "ies"
    return word + "s"


def auxiliaries(verb: Token) -> list[Token]:
    """Auxiliaries/negation carrying a clause's tense, borrowed from a governing or conjoined verb.

    "I keep facing X" -> [keep]; "I'm teaching A and offering B" -> ['m] for "offering".
    """
    own = [c for c in verb.children if c.dep_ in ("aux", "auxpass", "neg")]
    if verb.dep_ == "xcomp" and verb.head.i != verb.i:
        head = verb.head
        return [*(c for c in head.children if c.dep_ in ("aux", "auxpass", "neg")), head, *own]
    node = verb
    while not own and node.dep_ == "conj" and node.tag_ in ("VBG", "VBN") and node.head.i != node.i:
        if any(c.dep_ in ("nsubj", "nsubjpass") for c in node.children):
            break
        node = node.head
        own = [c for c in node.children if c.dep_ in ("aux", "auxpass")]
    return own


def _finite(verb: Token) -> Token:
    """The token that carries agreement: the first auxiliary (or governing verb), else the verb."""
    group = [t for t in auxiliaries(verb) if t.dep_ != "neg"] + [verb]
    return min(group, key=lambda t: t.i)


def _pronoun(tok: Token, subject_kind: str, me: str | None, you: str | None) -> str | None:
    """Replacement text for a first/second-person token, "" to keep it, None when unknown."""
    low = tok.lower_
    if low in FIRST_PERSON:
        who, own = me, subject_kind == "me"
        role = FIRST_PERSON[low]
    elif low in SECOND_PERSON:
        who, own = you, subject_kind == "you"
        role = SECOND_PERSON[low]
    else:
        return ""
    if role == "poss":
        return "their" if own else (f"{who}'s" if who else None)
    if own and low.endswith(("self", "selves")):
        return "themselves"
    return who


def render_clause(
    subject: str,
    subject_kind: str,
    verb: Token,
    tokens: Iterable[int],
    *,
    me: str | None,
    you: str | None,
) -> str | None:
    """Rebuild one clause as a stand-alone sentence; None if it mentions someone unknown."""
    doc = verb.doc
    ids = sorted(set(tokens))
    finite = _finite(verb)
    if subject_kind == "named" and finite.lower_ in ("'m", "am", "m"):
        return None  # a first-person verb with a named subject: the parse went wrong
    agree = finite.i if subject_kind in ("me", "you") else -1
    parts: list[str] = [subject]
    prev = -2
    for i in ids:
        tok = doc[i]
        text = tok.text
        if i == agree and (tok.tag_ in ("VBP", "VB") or tok.lower_ in CLITIC_3SG):
            text = third_person_singular(tok.text)
        else:
            swap = _pronoun(tok, subject_kind, me, you)
            if swap is None:
                return None
            text = swap or text
        joiner = doc[prev].whitespace_ if i == prev + 1 else " "
        if text != tok.text and tok.text.startswith(_CLITIC_START) and not text.startswith(_CLITIC_START):
            joiner = " "
        parts.append((joiner if parts[1:] else " ") + text)
        prev = i
    sentence = "".join(parts).strip()
    if sentence.count('"') % 2:
        sentence = sentence.replace('"', "")
    sentence = re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r"\s+", " ", sentence)).strip(" ,;:-")
    if not sentence:
        return None
    if not (subject_kind == "me" and sentence.startswith(subject)):
        sentence = sentence[0].upper() + sentence[1:]  # the user's own name stays as written ("u-42" is an id)
    return sentence + ("" if sentence.endswith((".", "!")) else ".")


# Lasting states, as the sentence that states them; and the verbs that already state them.
_STATES = {
    "LIVES_IN": "lives in {}", "WORKS_AT": "works at {}", "HAS_PLAN": "is on the {} plan",
    "STUDIES_AT": "studies at {}", "MARRIED_TO": "is married to {}", "ENGAGED_TO": "is engaged to {}",
    "DATING": "is dating {}", "RELATIONSHIP_STATUS": "is {}",
}
_STATE_VERBS = frozenset({"live", "reside", "work", "be", "study", "attend", "go", "date"})


def state_sentence(subject: str, relation: str, target: str, verb_lemma: str) -> str | None:
    """The state a change leaves, as its fact sentence: "I moved to Denver" -> "Jane Smith lives in
    Denver." (dated from the move), "I joined Stripe" -> "... works at Stripe."; None when the verb
    already states the state ("I live in Denver") or the relation is no lasting state."""
    template = _STATES.get(relation)
    if template is None or verb_lemma in _STATE_VERBS:
        return None
    return f"{subject} {template.format(target)}."


def verb_lemma(tok: Token) -> str:
    """A verb's lemma, repaired where spaCy's rules slip ("hoping" -> "hop" becomes "hope")."""
    lemma, low = tok.lemma_.lower(), tok.lower_
    if tok.tag_ == "VBG" and low.endswith("ing") and gerund(lemma) != low:
        stem = low[:-3]
        for candidate in (stem + "e", stem, stem[:-1]):
            if candidate and gerund(candidate) == low:
                return candidate
    regular = lemma not in IRREGULAR_PAST and low.endswith("ed")
    if tok.tag_ in ("VBD", "VBN") and regular and past_form(lemma) != low:
        for candidate in (low[:-1], low[:-2], low[:-3], low[:-3] + "y"):
            if candidate and past_form(candidate) == low:
                return candidate
    return lemma
