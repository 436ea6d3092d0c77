"""Checks on a model's extraction that fix, by construction, what small models get wrong.

Each message's facts are checked against the message itself: an assistant, system or tool
message asserts nothing about anyone (its facts are dropped: "Done: your account shows the Pro
plan" is the assistant's line, not the user's word); a fact whose object is mentioned only in
questions is dropped ("is my account okay?" states no residence); a fact the model credits to
the speaker but the offline parse of the same message credits to someone else ("My sister Ana
lives in Lisbon") is re-attributed to that person, so it can never close the speaker's own
fact; a ``Topic`` type is replaced by the type the offline parse found.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from ..models import Episode, Role
from .base import ExtractedFact, Extraction, ExtractionContext

__all__ = ["Checks"]

log = logging.getLogger(__name__)

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


def _split(text: str) -> tuple[list[str], list[str]]:
    """(asserted sentences, questions) of a message, lower-cased."""
    asserted: list[str] = []
    questions: list[str] = []
    for match in _SENTENCE.finditer(text):
        piece = match.group(0).strip().casefold()
        if piece:
            (questions if piece.endswith("?") else asserted).append(piece)
    return asserted, questions


def _mentions(sentences: Sequence[str], name: str) -> bool:
    words = re.escape(name.casefold().strip())
    return bool(words) and any(re.search(rf"(?<!\w){words}(?!\w)", s) for s in sentences)


class Checks:
    """Per-chunk checks; ``offline`` is an OfflineExtractor (or None: the parse checks are skipped)."""

    def __init__(self, offline: Any, chunk: Sequence[Episode], ctx: ExtractionContext,
                 results: Sequence[Extraction]) -> None:
        self.ctx = ctx
        self.parsed: list[Extraction] | None = None
        wanted = any(r.facts or r.entities for r in results)
        if offline is not None and wanted:
            try:
                self.parsed = offline.extract(list(chunk), ctx)
            except Exception as exc:  # noqa: BLE001 - a check that cannot run must not lose the answer
                log.info("extract: offline cross-check skipped (%s)", exc)

    def apply(self, ep: Episode, result: Extraction, counts: Any) -> None:
        """Drop, re-attribute and re-type ``result``'s facts in place; ``counts`` gets the tallies."""
        if ep.role not in (None, Role.user):
            counts.assistant += len(result.facts)
            result.facts = []
            return
        asserted, questions = _split(ep.content)
        kept: list[ExtractedFact] = []
        for fact in result.facts:
            if not asserted or (_mentions(questions, fact.target) and not _mentions(asserted, fact.target)):
                counts.questions += 1
                continue
            kept.append(fact)
        result.facts = kept
        parsed = self._parsed_for(ep)
        if parsed is None:
            return
        types = {e.name.casefold(): e.type for e in parsed.entities if e.type != "Topic"}
        for ent in result.entities:
            if ent.type == "Topic" and ent.name.casefold() in types:
                ent.type = types[ent.name.casefold()]
        for fact in result.facts:
            if fact.source_type == "Topic" and fact.source.casefold() in types:
                fact.source_type = types[fact.source.casefold()]
            if fact.target_type == "Topic" and fact.target.casefold() in types:
                fact.target_type = types[fact.target.casefold()]
            if self._reattribute(fact, parsed):
                counts.reattributed += 1

    def _parsed_for(self, ep: Episode) -> Extraction | None:
        if self.parsed is None:
            return None
        return next((p for p in self.parsed if p.episode_uuid == ep.uuid), None)

    @staticmethod
    def _reattribute(fact: ExtractedFact, parsed: Extraction) -> bool:
        """Give ``fact`` the subject the parse found for its object, when the parse disagrees."""
        target = fact.target.casefold()
        same = [f for f in parsed.facts if f.target.casefold() == target]
        if not same or any(f.source.casefold() == fact.source.casefold() for f in same):
            return False
        other = next((f for f in same if f.relation == fact.relation), None)
        if other is None or other.source_type != "Person":
            return False
        old = fact.source
        fact.source, fact.source_type = other.source, other.source_type
        fact.fact = fact.fact.replace(old, other.source) if old in fact.fact else other.fact
        return True
