"""Fact resolution by a model: duplicates and contradictions of a batch in ONE call.

Only facts that share an endpoint are ever compared, and each new fact is shown at most
``max_candidates`` of them (those sharing both endpoints, then the same relation, then the most
similar wording). Cases a rule settles never reach the model: an identical triple is a
duplicate, and single-valued relations (LIVES_IN, WORKS_AT, ...) are closed by
:func:`agent_memory.ingest.temporal.resolve_fact` without a call. Ids are numbered ``N1``/``X1``
in the prompt and mapped back; any other reference in the answer is dropped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, Field

from ..errors import InvalidInputError
from ..extraction.prompts import resolve as prompt
from ..extraction.relations import is_single_valued, normalize_relation
from ..llm.base import LLMClient

__all__ = ["CandidateFact", "ExistingFact", "Judgement", "candidates", "judge_facts"]

log = logging.getLogger(__name__)
_WORD = re.compile(r"\w+", re.UNICODE)


class CandidateFact(BaseModel):
    """A fact just extracted; ``key`` is the caller's handle for it.

    ``among``: the uuids of the existing facts it may be compared with (e.g. only facts stated
    before it); None allows any existing fact that shares an endpoint.
    """

    key: str
    source: str
    relation: str
    target: str
    fact: str
    valid_at: datetime | None = None
    among: list[str] | None = None


class ExistingFact(BaseModel):
    """A current fact of the user's graph."""

    uuid: str
    source: str
    relation: str
    target: str
    fact: str
    valid_at: datetime | None = None


class Judgement(BaseModel):
    """What to do with a candidate: merge into ``duplicate_of``, close the ``contradicts`` facts."""

    key: str
    duplicate_of: str | None = None
    contradicts: list[str] = Field(default_factory=list)


def judge_facts(llm: LLMClient, new: Sequence[CandidateFact], existing: Sequence[ExistingFact], *,
                episodes: Sequence[str] = (), max_candidates: int = 8) -> list[Judgement]:
    """One Judgement per new fact, in order, with at most one model call.

    Raises:
        InvalidInputError: two candidates share a key.
        LLMResponseError, ProviderError: from the call, as the client raises them.
    """
    verdicts = {c.key: Judgement(key=c.key) for c in new}
    if len(verdicts) != len(new):
        raise InvalidInputError("judge_facts: candidate keys must be unique")
    asked: list[tuple[CandidateFact, list[int]]] = []
    for cand in new:
        pool = candidates(cand, existing, max_candidates)
        exact = next((i for i in pool if _triple(existing[i]) == _triple(cand)), None)
        if exact is not None:
            verdicts[cand.key] = Judgement(key=cand.key, duplicate_of=existing[exact].uuid)
        elif pool and not is_single_valued(cand.relation):
            asked.append((cand, pool))
    if asked:
        _ask(llm, asked, existing, verdicts, episodes)
    return [verdicts[c.key] for c in new]


def candidates(cand: CandidateFact, existing: Sequence[ExistingFact], limit: int) -> list[int]:
    """Indices of existing facts sharing an endpoint with ``cand``, most comparable first."""
    ends = {_norm(cand.source), _norm(cand.target)}
    words = set(_WORD.findall(cand.fact.casefold()))
    allowed = None if cand.among is None else set(cand.among)
    scored = []
    for i, old in enumerate(existing):
        if allowed is not None and old.uuid not in allowed:
            continue
        shared = ends & {_norm(old.source), _norm(old.target)}
        if not shared:
            continue
        old_words = set(_WORD.findall(old.fact.casefold()))
        overlap = len(words & old_words) / max(len(words | old_words), 1)
        same_relation = normalize_relation(old.relation) == normalize_relation(cand.relation)
        scored.append((-len(shared), not same_relation, -overlap, i))
    return [i for *_, i in sorted(scored)[:limit]]


def _ask(llm: LLMClient, asked: list[tuple[CandidateFact, list[int]]], existing: Sequence[ExistingFact],
         verdicts: dict[str, Judgement], episodes: Sequence[str]) -> None:
    """The one call: number what is shown, then map the answer back, dropping anything else."""
    shown = list(dict.fromkeys(i for _, pool in asked for i in pool))
    label = {index: n for n, index in enumerate(shown, 1)}
    inp = prompt.ResolveInput(
        new=[prompt.NewFact(**_shown(cand).model_dump(), compare_with=sorted(label[i] for i in pool))
             for cand, pool in asked],
        existing=[_shown(existing[i]) for i in shown])
    schema = prompt.constrained_output(len(asked), len(shown), _texts(asked, inp))
    answer = llm.generate_structured(prompt.build_messages(inp), schema, name=prompt.NAME, episodes=list(episodes))
    dropped = 0
    unmatched = len(asked) - len({v.new for v in answer.verdicts})
    for verdict in answer.verdicts:
        n = _number(verdict.new, "N")
        if n is None or not 1 <= n <= len(asked):
            continue
        cand, pool = asked[n - 1]
        allowed = {label[i]: existing[i].uuid for i in pool}
        refs = [_number(x, "X") for x in ([verdict.duplicate_of] if verdict.duplicate_of else [])]
        dup = allowed.get(refs[0]) if refs and refs[0] is not None else None
        contra = [allowed[x] for x in (_number(r, "X") for r in verdict.contradicts) if x in allowed]
        dropped += len(refs) - (dup is not None) + len(verdict.contradicts) - len(contra)
        by_uuid = {existing[i].uuid: existing[i] for i in pool}
        same = [u for u in contra if _triple(by_uuid[u]) == _triple(cand)]
        if same:  # "contradicts" the very fact it restates: a small model's duplicate
            dup = dup or same[0]
            contra = [u for u in contra if u not in same]
        verdicts[cand.key] = Judgement(key=cand.key, duplicate_of=dup,
                                       contradicts=[u for u in dict.fromkeys(contra) if u != dup])
    if dropped:
        log.info("resolve: dropped %d references outside the facts offered", dropped)
    if unmatched:
        log.info("resolve: %d new facts got no verdict (kept as new facts)", unmatched)


def _texts(asked: list[tuple[CandidateFact, list[int]]], inp: prompt.ResolveInput) -> dict[str, str]:
    """What a model may write instead of an id (it copies the line or the sentence) -> the id."""
    out: dict[str, str] = {}
    for i, fact in enumerate(inp.new, 1):
        out.setdefault(prompt.render_fact(fact, "at").casefold(), f"N{i}")
        out.setdefault(fact.fact.strip().casefold(), f"N{i}")
    for i, old in enumerate(inp.existing, 1):
        out.setdefault(prompt.render_fact(old, "since").casefold(), f"X{i}")
        out.setdefault(old.fact.strip().casefold(), f"X{i}")
    return out


def _shown(fact: CandidateFact | ExistingFact) -> prompt.ResolveFact:
    return prompt.ResolveFact(source=fact.source, relation=normalize_relation(fact.relation), target=fact.target,
                              fact=fact.fact, valid_at=fact.valid_at.date().isoformat() if fact.valid_at else None)


def _number(ref: str | None, prefix: str) -> int | None:
    match = re.fullmatch(rf"\s*{prefix}\s*(\d+)\s*", ref or "", re.IGNORECASE)
    return int(match.group(1)) if match else None


def _norm(name: str) -> str:
    return " ".join(_WORD.findall(name.casefold()))


def _triple(fact: CandidateFact | ExistingFact) -> tuple[str, str, str]:
    return _norm(fact.source), normalize_relation(fact.relation), _norm(fact.target)
