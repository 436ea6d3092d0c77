"""LLMExtractor: entities and dated facts for a batch of messages, one model call per chunk.

Messages are chunked (``max_batch_messages``, ``max_batch_chars``); each chunk is one call to
the ``extract`` prompt with the user's nearby known entities and facts numbered ``E1``/``F1``...
References are mapped back to names here; a reference to an id that was not offered is dropped
and counted (see :attr:`LLMExtractor.stats`), never guessed.

What small models get wrong is fixed by construction, not by asking nicely (see docs/LLM.md):
facts from an assistant/system/tool message are dropped (its lines are context, not the user's
word); a fact whose object is only mentioned in a question is dropped; relations are
canonicalised (``MOVED`` -> ``LIVES_IN``); a fact the offline parse attributes to someone else
("my sister Ana lives in Lisbon") is re-attributed to them; types come from the ontology, the
relation or the offline parse rather than ``Topic``. An answer that does not validate (unknown or
misplaced fields) falls back to the offline extractor for that chunk, logged and counted.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .._time import parse_ts
from ..errors import ConfigError, InvalidTimestampError, LLMResponseError
from ..llm.base import LLMClient
from ..models import Episode, Role
from ._llm_checks import Checks as _Checks
from .base import ExtractedEntity, ExtractedFact, Extraction, ExtractionContext
from .markup import strip_block_markup
from .ontology import Ontology
from .prompts import extract as prompt
from .relations import canonical_relation, relation_types

__all__ = ["ExtractorStats", "LLMExtractor", "chunk_episodes", "parse_model_date"]

log = logging.getLogger(__name__)

_REF = re.compile(r"^\s*\[?([EF])\s*(\d+)\]?(?:\s*[(:\-].*)?\s*$", re.IGNORECASE | re.DOTALL)
_FIRST_PERSON = frozenset({"i", "me", "my", "myself", "speaker"})
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")
_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


@dataclass
class ExtractorStats:
    """Running counts, for logs and benchmarks."""

    calls: int = 0
    messages: int = 0
    dropped_references: int = 0
    dropped_items: int = 0
    invalid_dates: int = 0
    dropped_assistant_facts: int = 0
    dropped_question_facts: int = 0
    reattributed: int = 0
    fallbacks: int = 0


class LLMExtractor:
    """Extracts with a model through any :class:`~agent_memory.llm.base.LLMClient`.

    Args:
        llm: the client (e.g. :class:`~agent_memory.llm.openai.OpenAILLM`).
        ontology: custom entity and relation types, described in the prompt.
        max_batch_messages: messages per call at most (small local models lose track of long chunks:
            40 LoCoMo turns in chunks of 20 gave one fact from Qwen2.5 1.5B).
        max_batch_chars: characters of message text per call at most (a longer message goes alone).
        fallback: see ``__init__``.
    """

    name = "llm"
    wants_context = True
    # A failed chunk should fail its episodes, not be retried message by message (20x the calls).
    retry_individually = False

    def __init__(self, llm: LLMClient, *, ontology: Ontology | None = None, max_batch_messages: int = 10,
                 max_batch_chars: int = 6000, fallback: Any = "offline") -> None:
        """See the class docs; ``fallback``: the extractor for a chunk whose answer does not
        validate ("offline": an :class:`OfflineExtractor`, also used to check who a fact is
        about; None: raise instead)."""
        if max_batch_messages < 1 or max_batch_chars < 1:
            raise ConfigError("max_batch_messages and max_batch_chars must be positive")
        self.llm, self.ontology = llm, ontology
        self.max_batch_messages, self.max_batch_chars = max_batch_messages, max_batch_chars
        self.stats = ExtractorStats()
        self._lock = threading.Lock()
        self._fallback_spec = fallback
        self._fallback: Any = None

    def __repr__(self) -> str:
        return f"LLMExtractor(llm={self.llm!r}, max_batch_messages={self.max_batch_messages})"

    def chunks(self, episodes: Sequence[Episode]) -> list[list[Episode]]:
        """How :meth:`extract` splits ``episodes`` into calls; the pipeline extracts chunk by chunk,
        each with its own nearby context, so a failed call fails only its chunk."""
        return chunk_episodes(episodes, self.max_batch_messages, self.max_batch_chars)

    def extract(self, episodes: Sequence[Episode], context: ExtractionContext) -> list[Extraction]:
        """One Extraction per episode, in order; one model call per chunk.

        Raises:
            LLMResponseError: the model's output did not validate (after its retry).
            ProviderError: the endpoint failed or stayed rate limited.
        """
        out: list[Extraction] = []
        for chunk in self.chunks(episodes):
            inp = self._input(chunk, context)
            try:
                answer = self.llm.generate_structured(prompt.build_messages(inp), prompt.response_model(inp),
                                                      name=prompt.NAME, episodes=[e.uuid for e in chunk])
            except LLMResponseError as exc:
                offline = self._offline()
                if offline is None:
                    raise
                log.warning("extract: the model's answer did not validate (%s); the offline extractor "
                            "handles these %d messages", exc, len(chunk))
                with self._lock:
                    self.stats.fallbacks += 1
                out.extend(offline.extract(chunk, context))
                continue
            out.extend(self._extractions(answer, chunk, context))
        return out

    def _offline(self) -> Any:
        """The fallback extractor, built on first use; None when disabled or spaCy is missing."""
        if self._fallback is None and self._fallback_spec is not None:
            if self._fallback_spec != "offline":
                self._fallback = self._fallback_spec
            else:
                try:
                    from ._spacy import load_spacy_model
                    from .offline import OfflineExtractor

                    load_spacy_model()
                    self._fallback = OfflineExtractor()
                except Exception as exc:  # noqa: BLE001 - no spaCy model: no cross-check, no fallback
                    log.info("extract: no offline fallback (%s)", exc)
                    self._fallback_spec = None
        return self._fallback

    def _input(self, chunk: Sequence[Episode], ctx: ExtractionContext) -> prompt.ExtractInput:
        messages = [prompt.PromptMessage(index=i, speaker=_speaker(ep, ctx), time=_iso(ep.reference_time),
                                         role=ep.role.value if ep.role else ep.source.value,
                                        text=strip_block_markup(ep.content))
                    for i, ep in enumerate(chunk)]
        return prompt.ExtractInput(user_name=ctx.user_name, messages=messages,
                                   known_entities=list(ctx.known_entities), known_facts=list(ctx.known_facts),
                                   ontology=self.ontology.spec() if self.ontology else None)

    def _extractions(self, answer: prompt.ExtractOutput, chunk: Sequence[Episode],
                     ctx: ExtractionContext) -> list[Extraction]:
        results = [Extraction(episode_uuid=ep.uuid) for ep in chunk]
        dropped = _Counts()
        for item in answer.messages:
            if not 0 <= item.index < len(chunk):
                dropped.items += len(item.entities) + len(item.facts)
                continue
            ep = chunk[item.index]
            refs = _Refs(ctx, _speaker(ep, ctx), dropped)
            types = self._entities(item, refs, results[item.index])
            self._facts(item, refs, types, results[item.index], dropped)
        checks = _Checks(self._offline(), chunk, ctx, results)
        for ep, result in zip(chunk, results, strict=True):
            checks.apply(ep, result, dropped)
        with self._lock:
            self.stats.calls += 1
            self.stats.messages += len(chunk)
            self.stats.dropped_references += dropped.references
            self.stats.dropped_items += dropped.items
            self.stats.invalid_dates += dropped.dates
            self.stats.dropped_assistant_facts += dropped.assistant
            self.stats.dropped_question_facts += dropped.questions
            self.stats.reattributed += dropped.reattributed
        if dropped.references or dropped.items:
            log.info("extract: dropped %d unknown references and %d items (%d messages)", dropped.references,
                     dropped.items, len(chunk))
        return results

    def _entities(self, item: prompt.MessageItems, refs: _Refs, result: Extraction) -> dict[str, str]:
        types: dict[str, str] = {refs.speaker.casefold(): "Person", refs.user.casefold(): "Person"}
        seen: set[str] = set()
        for ent in item.entities:
            name = refs.resolve(ent.name)
            if name is None or name.casefold() in seen:
                continue
            seen.add(name.casefold())
            etype = self._entity_type(ent.type)
            types[name.casefold()] = etype
            attrs = getattr(ent, "attributes", [])
            attributes = self.ontology.entity_attributes(etype, [(a.name, a.value) for a in attrs]) \
                if self.ontology and attrs else {}
            summary = ent.summary.strip() if ent.summary and ent.summary.strip() else None
            result.entities.append(ExtractedEntity(name=name, type=etype, summary=summary, attributes=attributes))
        return types

    def _facts(self, item: prompt.MessageItems, refs: _Refs, types: dict[str, str], result: Extraction,
               dropped: _Counts) -> None:
        for fact in item.facts:
            source, target = refs.resolve(fact.source), refs.resolve(fact.target)
            if source is None or target is None or not fact.fact.strip():
                dropped.items += 1
                continue
            relation = canonical_relation(fact.relation, self.ontology.edge_types if self.ontology else ())
            attrs = getattr(fact, "attributes", [])
            attributes = self.ontology.edge_attributes(relation, [(a.name, a.value) for a in attrs]) \
                if self.ontology and attrs else {}
            implied_source, implied_target = relation_types(relation)
            source_type = types.get(source.casefold(), implied_source)
            target_type = types.get(target.casefold(), implied_target)
            if target_type == "Topic" and implied_target != "Topic":
                target_type = implied_target  # "Boston" as Topic in a LIVES_IN fact is a Place
            result.facts.append(ExtractedFact(
                source=source, source_type=source_type, relation=relation,
                target=target, target_type=target_type, fact=fact.fact.strip(),
                valid_at=dropped.date(fact.valid_at), invalid_at=dropped.date(fact.invalid_at), ends=fact.ends,
                attributes=attributes))

    def _entity_type(self, raw: str) -> str:
        text = raw.strip() or "Topic"
        if self.ontology and (defined := self.ontology.entity_type(text)):
            return defined
        general = {t.casefold(): t for t in prompt.GENERAL_TYPES}
        return general.get(text.casefold(), text[0].upper() + text[1:])


class _Counts:
    """What one chunk dropped."""

    def __init__(self) -> None:
        self.references = self.items = self.dates = 0
        self.assistant = self.questions = self.reattributed = 0

    def date(self, value: str | None) -> datetime | None:
        parsed = parse_model_date(value)
        if parsed is None and value and value.strip().lower() not in ("null", "none", "unknown"):
            self.dates += 1
        return parsed


class _Refs:
    """Maps the model's names and ``E<n>`` references back to entity names."""

    def __init__(self, ctx: ExtractionContext, speaker: str, counts: _Counts) -> None:
        self.known, self.speaker, self.user, self.counts = ctx.known_entities, speaker, ctx.user_name, counts
        self.offered = {"E": bool(ctx.known_entities), "F": bool(ctx.known_facts)}

    def resolve(self, token: str) -> str | None:
        """The entity name, or None for an empty token or an id that was not offered."""
        text = token.strip().strip('"').strip()
        if not text:
            return None
        ref = _REF.match(text)
        if ref and self.offered[ref.group(1).upper()]:  # with nothing numbered, "F1" is a name
            number = int(ref.group(2))
            if ref.group(1).upper() == "E" and 1 <= number <= len(self.known):
                return self.known[number - 1]
            self.counts.references += 1
            return None
        if text.casefold() in _FIRST_PERSON:
            return self.speaker
        if text.casefold() in ("user", "the user"):
            return self.user
        return text


def chunk_episodes(episodes: Sequence[Episode], max_messages: int, max_chars: int) -> list[list[Episode]]:
    """Consecutive chunks of at most ``max_messages`` and (but for a lone long one) ``max_chars``."""
    chunks: list[list[Episode]] = []
    current: list[Episode] = []
    size = 0
    for ep in episodes:
        if current and (len(current) >= max_messages or size + len(ep.content) > max_chars):
            chunks.append(current)
            current, size = [], 0
        current.append(ep)
        size += len(ep.content)
    if current:
        chunks.append(current)
    return chunks


def parse_model_date(value: str | None) -> datetime | None:
    """A model's date as aware UTC: RFC 3339, naive ISO (as UTC), YYYY-MM-DD, YYYY-MM or YYYY; else None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return parse_ts(text)
    except InvalidTimestampError:
        pass
    if _NAIVE.match(text):
        try:
            return datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=timezone.utc)
        except ValueError:
            return None
    partial = _PARTIAL_DATE.match(text)
    if partial:
        try:
            year, month, day = int(partial.group(1)), int(partial.group(2) or 1), int(partial.group(3) or 1)
            return datetime(year, month, day, tzinfo=timezone.utc)
        except ValueError:
            return None
    return None


def _speaker(ep: Episode, ctx: ExtractionContext) -> str:
    """Who "I" is in an episode: its name, else the user for user/text episodes, else the role."""
    if ep.name and ep.name.strip():
        name = ep.name.strip()
        is_user = name.casefold() in {a.casefold() for a in [ctx.user_name, *ctx.user_aliases]}
        return ctx.user_name if is_user else name
    if ep.role is None or ep.role == Role.user:
        return ctx.user_name
    return str(ep.role.value)


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
