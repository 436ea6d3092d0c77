"""Clause analysis over spaCy parses for the offline extractor.

Finds the asserted clauses of a sentence (skipping questions, conditionals, modals and hedges),
resolves their subjects to names (``I`` -> the speaker, ``you`` -> the addressee) and attaches
the date phrase that modifies each clause (named spans and noun phrases: ``_mentions``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._lexicon import (
    ENDING_ADVERBS,
    FAMILY,
    FIRST_PERSON,
    HEDGES,
    REPORT_VERBS,
    SECOND_PERSON,
    START_VERBS,
)
from ._mentions import Mention
from ._render import auxiliaries
from .dates import parse_date_span

__all__ = [
    "Clause",
    "Subject",
    "Voice",
    "asserted_clauses",
    "date_spans_by_sentence",
    "is_question",
    "skip_sentence",
]

Token = Any  # spacy.tokens.Token; spaCy is imported lazily, so only used as an annotation
Span = Any

_SUBJ_DEPS = ("nsubj", "nsubjpass")
_CLAUSE_DEPS = ("ROOT", "conj", "advcl", "ccomp", "xcomp")
_CONDITION_MARKS = frozenset({"if", "unless", "whether", "whenever", "suppose", "assuming", "like"})
_DURATION_PREPS = frozenset({"for", "during", "over", "within", "until", "till", "by", "throughout"})
_GREETINGS = frozenset({"hi", "hey", "hello", "thanks", "dear", "yo", "congrats", "congratulations", "bye"})
_WH = frozenset({"what", "who", "whom", "where", "when", "why", "how", "which", "whose"})


@dataclass(frozen=True)
class Voice:
    """Who first- and second-person words refer to in one message."""

    me: str | None
    you: str | None
    user_name: str
    aliases: frozenset[str] = frozenset()

    def canonical(self, name: str) -> str:
        """The user's canonical name for any of their aliases, else ``name``."""
        return self.user_name if name.lower() in self.aliases else name


@dataclass(frozen=True)
class Subject:
    """A clause subject resolved to a name; ``kind`` is "me", "you" or "named"."""

    name: str
    type: str
    kind: str


@dataclass
class Clause:
    """An asserted clause: its verb, resolved subjects, polarity and date."""

    verb: Token
    subjects: list[Subject]
    negated: bool = False
    ended: bool = False
    past: bool = False
    date: datetime | None = None
    date_text: str | None = None
    skip_tokens: set[int] = field(default_factory=set)


# -- sentences -------------------------------------------------------------------------------


def is_question(sent: Span) -> bool:
    """A question: ends with '?', or opens with an inverted auxiliary or a wh-word."""
    text = sent.text.strip()
    if text.endswith("?"):
        return True
    words = [t for t in sent if not t.is_punct and not t.is_space]
    if not words:
        return False
    first = words[0]
    if first.lower_ in _WH and first.dep_ in ("advmod", "attr", "dobj", "nsubj", "det"):
        head = first.head
        return head.dep_ == "ROOT" and any(c.dep_ == "aux" and c.i > first.i for c in head.children)
    return first.dep_ in ("aux", "auxpass") and first.head.dep_ == "ROOT" and any(
        c.dep_ in _SUBJ_DEPS and c.i > first.i for c in first.head.children
    )


def skip_sentence(sent: Span) -> bool:
    """Questions and conditionals assert nothing."""
    if is_question(sent):
        return True
    return any(t.dep_ == "mark" and t.lower_ in _CONDITION_MARKS for t in sent)


# -- clauses ---------------------------------------------------------------------------------


def _modal_or_hedged(verb: Token) -> bool:
    for child in verb.children:
        if child.tag_ == "MD" and not (verb.lemma_ == "stand" and child.lower_ in ("ca", "can", "could")):
            return True
        if child.dep_ == "advmod" and child.lower_ in HEDGES:
            return True
        if child.dep_ == "mark" and child.lower_ in _CONDITION_MARKS:
            return True
    return False


def _eligible(verb: Token) -> bool:
    """True when the clause headed by ``verb`` is asserted, not wished, planned or reported."""
    node = verb
    while True:
        if node.dep_ not in _CLAUSE_DEPS or _modal_or_hedged(node):
            return False
        head = node.head
        if node.dep_ == "ROOT":
            return True
        if node.dep_ == "ccomp" and head.lemma_.lower() not in REPORT_VERBS and not _comma_splice(node, head):
            return False
        if node.dep_ == "xcomp" and head.lemma_.lower() not in START_VERBS:
            return False
        if node.dep_ == "advcl" and (
            any(c.dep_ == "mark" and c.lower_ in ("to", "so") for c in node.children)
            or not any(c.dep_ in _SUBJ_DEPS for c in node.children)
        ):
            return False  # purpose clauses and participial adjuncts ("... creating memories")
        node = head


_DOUBT_VERBS = frozenset({"think", "guess", "believe", "suppose", "hope", "wish", "doubt", "wonder", "imagine",
                          "bet", "reckon", "assume", "hear", "say", "feel", "know", "expect", "fear"})


def _comma_splice(clause: Token, head: Token) -> bool:
    """"My sister lives in Lisbon, I visit her": two sentences joined by a comma, the first parsed as
    the second's complement; not "She lives in Lisbon, I think" (the tail hedges it)."""
    if clause.i > head.i or head.lemma_.lower() in _DOUBT_VERBS:
        return False
    end = max(t.i for t in clause.subtree)
    return any(t.text == "," for t in clause.doc[end + 1 : head.i])


def _vocative(tok: Token) -> bool:
    """A name addressed rather than talked about: "Hi Maria, ...", "Thanks, John!"."""
    doc = tok.doc
    before = doc[tok.i - 1].lower_ if tok.i > 0 else ""
    after = doc[tok.i + 1].text if tok.i + 1 < len(doc) else ""
    framed = before in (",", "") and after in (",", "!", ".")
    return tok.pos_ == "PROPN" and (before in _GREETINGS or framed)


def _bare_participle(verb: Token) -> bool:
    """"we had fun bonding and creating memories": a conjoined -ing/-ed form with no tense of its own."""
    if verb.tag_ not in ("VBG", "VBN") or verb.dep_ == "xcomp":
        return False
    own = any(c.dep_ in ("aux", "auxpass", *_SUBJ_DEPS) for c in verb.children)
    return not own and not auxiliaries(verb)


def _subject_tokens(verb: Token) -> list[Token]:
    node = verb
    while True:
        subs = [c for c in node.children if c.dep_ in _SUBJ_DEPS and not _vocative(c)]
        if subs:
            sub = min(subs, key=lambda t: abs(node.i - t.i))  # "Hi Maria, I'm ...": the nearer one
            return [sub, *(c for c in sub.conjuncts if c.dep_ == "conj")]
        if node.dep_ in ("conj", "xcomp") and node.head.pos_ in ("VERB", "AUX") and node.head.i != node.i:
            node = node.head
            continue
        return []


def _resolve(tok: Token, voice: Voice, mentions: dict[int, Mention]) -> Subject | None:
    low = tok.lower_
    if low in FIRST_PERSON:
        return Subject(voice.me, "Person", "me") if voice.me else None
    if low in SECOND_PERSON:
        return Subject(voice.you, "Person", "you") if voice.you else None
    appos = [c for c in tok.children if c.dep_ == "appos" and c.i in mentions]
    target = appos[0] if appos and tok.lemma_.lower() in FAMILY else tok
    mention = mentions.get(target.i)
    if mention is None or target.pos_ not in ("PROPN", "NOUN") or mention.type in ("Place", "Work"):
        return None
    name = voice.canonical(mention.name)
    etype = "Person" if name == voice.user_name else mention.type
    kind = "me" if name == voice.me else "named"
    return Subject(name, etype, kind)


_LEAD_WORDS = frozenset({"just", "finally", "recently", "also", "so", "and", "then", "oh", "well", "officially",
                         "actually", "already", "now", "today", "yesterday"})


def _implicit_me(verb: Token) -> bool:
    """A sentence that opens with a past verb and has no subject ("Just started at Stripe.",
    "Finally settled in Denver") is the speaker's diary style: its subject is "I"."""
    node = verb
    while node.dep_ == "conj" and node.head.i != node.i:
        node = node.head
    if node.dep_ != "ROOT" or node.tag_ not in ("VBD", "VBN"):
        return False
    if any(c.dep_ in (*_SUBJ_DEPS, "expl", "auxpass", "aux") for c in node.children):
        return False
    for tok in node.sent:
        if tok.is_punct or tok.is_space or tok.lower_ in _LEAD_WORDS or (tok.dep_ == "intj"):
            continue
        return tok.i == node.i
    return False


def _polarity(verb: Token) -> tuple[bool, bool]:
    """(negated, ended): "I don't like X" is negated; "I no longer / don't ... anymore" has ended."""
    near = list(verb.children)
    near += [g for c in verb.children if c.dep_ == "advmod" for g in c.children]
    negated = any(t.dep_ == "neg" or t.lower_ == "never" for t in near)
    ended = negated and any(
        t.lower_ in ENDING_ADVERBS or (t.lower_ == "more" and t.i > 0 and t.nbor(-1).lower_ in ("any", "no"))
        for t in near
    )
    if verb.dep_ == "xcomp" and verb.head.lemma_.lower() in ("stop", "quit"):
        negated = ended = True
    return negated, ended


def _is_past(verb: Token) -> bool:
    """Past or present-perfect: dateparser should then read "May" as the last May, not the next."""
    if verb.tag_ == "VBD":
        return True
    auxes = [c for c in verb.children if c.dep_ in ("aux", "auxpass")]
    if any(a.tag_ == "VBD" for a in auxes):
        return True
    return verb.tag_ == "VBN" and any(a.lemma_.lower() == "have" for a in auxes)


def _date_for(verb: Token, ents: list[Span], clause_ids: set[int]) -> Span | None:
    for ent in ents:
        node, ok = ent.root, True
        while node.i not in clause_ids and node.head.i != node.i:
            if node.dep_ == "pobj" and node.head.lower_ in _DURATION_PREPS:
                ok = False
            node = node.head
        if ok and node.i == verb.i:
            return ent
    return None


def _date_tokens(ent: Span) -> set[int]:
    ids = set(range(ent.start, ent.end))
    root = ent.root
    if root.dep_ == "pobj" and root.head.dep_ == "prep":
        ids.add(root.head.i)
    return ids


def date_spans_by_sentence(doc: Any) -> dict[int, list[Span]]:
    """Sentence start token -> the DATE/TIME entities inside it, from ONE pass over ``doc.ents``.

    ``Span.ents`` scans every entity of the document, so asking each sentence for its own would
    make a long message quadratic in its length (a 100,000-character message took over a minute).
    """
    out: dict[int, list[Span]] = {}
    dates = [e for e in doc.ents if e.label_ in ("DATE", "TIME")]
    if not dates:
        return out
    k = 0
    for sent in doc.sents:
        while k < len(dates) and dates[k].start < sent.start:
            k += 1
        while k < len(dates) and dates[k].end <= sent.end:
            out.setdefault(sent.start, []).append(dates[k])
            k += 1
    return out


def asserted_clauses(sent: Span, voice: Voice, mentions: dict[int, Mention], ref: datetime,
                     dates: list[Span] | None = None) -> list[Clause]:
    """The asserted clauses of one sentence, with resolved subjects and dates.

    ``dates``: the sentence's DATE/TIME entities (see :func:`date_spans_by_sentence`); None reads
    ``sent.ents``, which costs a scan of the whole document's entities.
    """
    verbs = [t for t in sent if t.pos_ in ("VERB", "AUX") and t.dep_ in _CLAUSE_DEPS]
    verbs = [v for v in verbs if v.dep_ != "conj" or v.head.pos_ in ("VERB", "AUX")]
    clause_ids = {v.i for v in verbs}
    if dates is None:
        dates = [e for e in sent.ents if e.label_ in ("DATE", "TIME")]
    out: list[Clause] = []
    for verb in verbs:
        if not _eligible(verb) or (_bare_participle(verb) and not (voice.me and _implicit_me(verb))):
            continue
        subject_tokens = _subject_tokens(verb)
        subjects = [s for s in (_resolve(t, voice, mentions) for t in subject_tokens) if s]
        implicit = not subject_tokens and bool(voice.me) and _implicit_me(verb)
        if implicit and voice.me:
            subjects = [Subject(voice.me, "Person", "me")]  # "Just moved to Denver!": the speaker did
        negated, ended = _polarity(verb)
        clause = Clause(verb, subjects, negated, ended, _is_past(verb) or implicit)
        for sub in subject_tokens:
            if sub.head.i == verb.i:
                clause.skip_tokens.update(t.i for t in sub.subtree)
        ent = _date_for(verb, dates, clause_ids)
        if ent is not None:
            clause.date = parse_date_span(ent.text, ref, prefer_past=clause.past)
            clause.date_text = ent.text if clause.date else None
        for d in dates:
            clause.skip_tokens |= _date_tokens(d)
        out.append(clause)
    return out
