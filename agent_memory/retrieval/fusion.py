"""Rank fusion and reranking maths (pure): reciprocal rank fusion, MMR, recency."""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

import numpy as np

from ..models import Fact

__all__ = ["add_scaled", "fact_similarity", "jaccard_matrix", "mention_scores", "minmax_fuse", "mmr_order",
           "own_turns_around", "recency_weight", "rerank_facts", "rrf", "word_set"]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T", bound="_Turn")


class _Turn(Protocol):
    uuid: str
    name: str | None

_WORD = re.compile(r"\w+")


def rrf(rankings: Sequence[Sequence[K]], *, k: int = 60, weights: Sequence[float] | None = None) -> dict[K, float]:
    """Reciprocal rank fusion: each list adds ``weight / (k + rank)`` for every id it ranks (rank from 1)."""
    scores: dict[K, float] = {}
    for i, ranking in enumerate(rankings):
        w = 1.0 if weights is None else weights[i]
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + w / (k + rank)
    return scores


def minmax_fuse(scored: Sequence[tuple[Mapping[K, float], float]]) -> dict[K, float]:
    """Each ``(scores, weight)`` min-max normalised over its own hits (all 1.0 when they tie), weighted, summed."""
    fused: dict[K, float] = {}
    for sc, w in scored:
        if not sc:
            continue
        lo, hi = min(sc.values()), max(sc.values())
        for i, v in sc.items():
            fused[i] = fused.get(i, 0.0) + w * ((v - lo) / (hi - lo) if hi > lo else 1.0)
    return fused


def add_scaled(scores: Mapping[K, float], hits: Mapping[K, float], weight: float) -> dict[K, float]:
    """``scores`` with each of ``hits`` added as ``weight`` times its share of the best hit."""
    out = dict(scores)
    if hits:
        top = max(hits.values())
        for i, v in hits.items():
            out[i] = out.get(i, 0.0) + weight * v / top
    return out


def word_set(text: str) -> frozenset[str]:
    """Lower-cased word set, for cheap similarity."""
    return frozenset(_WORD.findall(text.lower()))


def jaccard_matrix(sets: Sequence[frozenset[str]]) -> np.ndarray:
    """Pairwise jaccard (|a & b| / |a | b|, 0 for two empty sets) of word sets, as an n x n float64 matrix."""
    vocab: dict[str, int] = {}
    rows = [[vocab.setdefault(w, len(vocab)) for w in s] for s in sets]
    hits = np.zeros((len(sets), max(len(vocab), 1)))
    for i, cols in enumerate(rows):
        hits[i, cols] = 1.0
    inter = hits @ hits.T
    sizes = hits.sum(axis=1)
    union = sizes[:, None] + sizes[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def mmr_order(relevance: Sequence[float], similarity: np.ndarray, *, lambda_: float = 0.7,
              limit: int | None = None) -> list[int]:
    """Maximal marginal relevance: the indices picked by relevance minus the highest similarity to what
    was already picked, in pick order. ``relevance`` is normalised by its maximum, so both terms are on
    one scale; of equal gains the first index wins."""
    n = len(relevance)
    if not n:
        return []
    top = max(relevance) or 1.0
    rel = np.asarray([r / top for r in relevance], dtype=np.float64)
    limit = n if limit is None else min(limit, n)
    closest = np.zeros(n)
    free = np.ones(n, dtype=bool)
    chosen: list[int] = []
    while len(chosen) < limit:
        gain = lambda_ * rel - (1 - lambda_) * closest if chosen else rel.copy()
        gain[~free] = -np.inf
        best = int(np.argmax(gain))
        chosen.append(best)
        free[best] = False
        np.maximum(closest, similarity[:, best], out=closest)
    return chosen


def recency_weight(ts: datetime | None, now: datetime, half_life_days: float = 180.0) -> float:
    """1.0 for now, halving every ``half_life_days`` into the past; 0.5 when unknown."""
    if ts is None:
        return 0.5
    days = max((now - ts).total_seconds() / 86400.0, 0.0)
    return math.pow(0.5, days / half_life_days)


def fact_similarity(facts: Sequence[Fact]) -> np.ndarray:
    """Word overlap (jaccard) of each pair of facts, except that an old and a new value of one state
    ("lives in Boston" / "lives in Denver") are a change, not a repeat: 0."""
    sim = jaccard_matrix([word_set(f.fact) for f in facts])
    states: dict[tuple[str, str], list[int]] = {}
    for i, f in enumerate(facts):
        states.setdefault((f.source_uuid, f.relation), []).append(i)
    for group in states.values():
        for i in group:
            for j in group:
                if facts[i].target_uuid != facts[j].target_uuid:
                    sim[i, j] = 0.0
    return sim


def rerank_facts(facts: Sequence[Fact], scores: Mapping[str, float], now: datetime, limit: int,
                 keep: float) -> list[tuple[Fact, float]]:
    """The best ``limit`` facts by fused score (recent ones a little ahead), diversified by MMR; a fact
    scoring below ``keep`` times the best gives way: it earns its place by relevance, not by a count."""
    rel = [scores[f.uuid] * (0.85 + 0.15 * recency_weight(f.valid_at, now)) for f in facts]
    order = sorted(range(len(facts)), key=lambda i: rel[i], reverse=True)[:limit]
    best, rel = [facts[i] for i in order], [rel[i] for i in order]
    by_id = dict(zip((f.uuid for f in best), rel))
    bar = keep * max(rel, default=0.0)
    ranked = [best[i] for i in mmr_order(rel, fact_similarity(best), lambda_=0.75)]
    return [(f, by_id[f.uuid]) for f in ranked if by_id[f.uuid] >= bar]


def own_turns_around(source: str, who: str | None, neighbours: Sequence[T],
                     beyond: Mapping[str, Sequence[T]]) -> list[T]:
    """The turns said by ``who`` two steps from ``source`` in its thread: the other neighbour of each
    of ``source``'s ``neighbours`` (``beyond``: uuid -> the turns just before and after it), once
    each, the source itself and anyone else's turns left out. In a chat that is the speaker's own
    turn before the other's reply to it, or after the reply to them."""
    seen = {source} | {n.uuid for n in neighbours}
    out: list[T] = []
    if who is None:
        return out
    for nb in neighbours:
        for turn in beyond.get(nb.uuid, ()):
            if turn.uuid not in seen and turn.name == who:
                seen.add(turn.uuid)
                out.append(turn)
    return out


def mention_scores(mentions: Sequence[tuple[str, str]], limit: int) -> dict[str, float]:
    """The ``limit`` episodes that mention the most, and the rarest, of some entities: each
    (entity, episode) mention adds ``log(1 + n / df)``, n the episodes mentioning any of them and df
    those mentioning this one (an entity named everywhere says little). Ties go to the smaller id."""
    df: dict[str, int] = {}
    for entity, _ in mentions:
        df[entity] = df.get(entity, 0) + 1
    n = len({episode for _, episode in mentions})
    score: dict[str, float] = {}
    for entity, episode in sorted(mentions):  # one order of additions: the same floats every time
        score[episode] = score.get(episode, 0.0) + math.log1p(n / df[entity])
    best = sorted(score, key=lambda u: (-score[u], u))[:limit]
    return {u: score[u] for u in best}
