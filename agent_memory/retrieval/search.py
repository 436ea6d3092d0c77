"""Hybrid retrieval over one user's graph: vector + BM25 + graph neighbourhood, fused and reranked."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
from pydantic import BaseModel, ConfigDict

from .._time import utcnow
from ..embedding.base import Embedder
from ..models import Entity, Episode, Fact, Observation, SearchResult, SearchScope
from ..storage.base import GraphStore, Kind
from ..text import normalize_name
from .fusion import jaccard, mmr, recency_weight, rrf, word_set
from .relevance import attach_relevance

__all__ = ["Candidates", "Retriever", "SearchFilters"]

_WORDS = re.compile(r"[^\W_]+(?:'[^\W_]+)?")

# Episode reranking. A turn next to a strong hit is often what the hit answers or is answered by
# ("What did you paint?" / "A lake sunrise"): the turns just before and after each of the
# strongest NEIGHBOUR_SOURCES hits gain NEIGHBOUR_WEIGHT of its score. Turns spoken by someone
# the query names gain SPEAKER_BOOST of their own score.
NEIGHBOUR_SOURCES = 20
NEIGHBOUR_WEIGHT = 0.25
SPEAKER_BOOST = 0.7
# A query that names a calendar date ("on 3 June, 2023", "2023-06-03", "in June 2023") is about that
# time: the episodes of that day (or month) gain DATE_BOOST on the fused scale (~0-1.7).
DATE_BOOST = 0.6
_MONTH_NAMES = ("january february march april may june july august september october november december").split()
_MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)} | {m[:3]: i + 1 for i, m in enumerate(_MONTH_NAMES)}
_MON = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MON})\.?,?\s+(\d{{4}})\b", re.I)
_MONTH_DAY_YEAR = re.compile(rf"\b({_MON})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I)
_ISO_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_MONTH_YEAR = re.compile(rf"\b({_MON})\.?,?\s+(\d{{4}})\b", re.I)
# Episodes: the vector and the BM25 scores, each min-max normalised over its own hits, weighted and
# summed (on LoCoMo this beat a reciprocal rank fusion of the two lists).
EPISODE_WEIGHTS = (0.7, 1.0)
# For a context block (not for search), a long episode must earn its tokens: its score is scaled by
# (LENGTH_REF / length) ** LENGTH_ALPHA above LENGTH_REF characters.
LENGTH_REF = 400
LENGTH_ALPHA = 0.5
# Facts: vector + BM25, plus the facts touching entities the query names (graph neighbourhood) and
# the facts drawn from the best episodes, with these weights in the fusion.
FACT_GRAPH_WEIGHT = 0.5
FACT_EPISODE_WEIGHT = 0.7


def query_dates(text: str) -> list[tuple[datetime, datetime]]:
    """UTC [start, end) windows of the calendar dates a text names: a day (padded by a day each side,
    for time zones) or a month. Relative phrases ("last week") are not read: a query has no date."""
    out: list[tuple[datetime, datetime]] = []
    days: list[tuple[int, int, int]] = []
    for m in _DAY_MONTH_YEAR.finditer(text):
        days.append((int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1))))
    for m in _MONTH_DAY_YEAR.finditer(text):
        days.append((int(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2))))
    for m in _ISO_DAY.finditer(text):
        days.append((int(m.group(1)), int(m.group(2)), int(m.group(3))))
    for y, mo, d in days:
        try:
            day = datetime(y, mo, d, tzinfo=timezone.utc)
        except ValueError:
            continue
        out.append((day - timedelta(days=1), day + timedelta(days=2)))
    if not out:
        for m in _MONTH_YEAR.finditer(text):
            y, mo = int(m.group(2)), _MONTHS[m.group(1).lower()]
            if 1 <= y <= 9999:
                end = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=timezone.utc)
                out.append((datetime(y, mo, 1, tzinfo=timezone.utc), end))
    return out


class SearchFilters(BaseModel):
    """Narrow ``graph.search`` results. Every field is optional."""

    model_config = ConfigDict(extra="forbid")

    valid_only: bool = False
    as_of: datetime | None = None
    relations: list[str] | None = None
    entity_types: list[str] | None = None
    thread_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class Candidates:
    """Ranked records of every kind, best first, with their fused scores."""

    facts: list[tuple[Fact, float]] = field(default_factory=list)
    entities: list[tuple[Entity, float]] = field(default_factory=list)
    episodes: list[tuple[Episode, float]] = field(default_factory=list)
    observations: list[tuple[Observation, float]] = field(default_factory=list)


def _ngrams(text: str, n: int = 3, max_words: int = 60) -> list[str]:
    words = _WORDS.findall(text)[:max_words]
    return [" ".join(words[i : i + k]) for k in range(1, n + 1) for i in range(len(words) - k + 1)]


class Retriever:
    """Finds what a query needs from the user's graph, within a candidate pool per kind."""

    def __init__(self, store: GraphStore, embedder: Embedder, *, pool: int = 40,
                 episode_pool: int | None = None) -> None:
        self.store, self.embedder, self.pool = store, embedder, pool
        # Episodes are the bulk of a block (a 4k-token block holds ~100 chat turns): rank more of them.
        self.episode_pool = episode_pool or 4 * pool

    def _fused(self, user_id: str, kind: Kind, query: str, qvec: np.ndarray, pool: int,
               extra: Sequence[tuple[Sequence[str], float]] = (),
               weights: tuple[float, float] = (1.0, 1.0), k: int = 60) -> dict[str, float]:
        dense = [i for i, _ in self._dense(user_id, kind, qvec, pool)]
        lexical = [i for i, _ in self.store.search_text(user_id, kind, query, pool)]
        lists = [dense, lexical, *[list(ids) for ids, _ in extra]]
        return rrf(lists, weights=[*weights, *[w for _, w in extra]], k=k)

    def _dense(self, user_id: str, kind: Kind, qvec: np.ndarray, pool: int) -> list[tuple[str, float]]:
        return self.store.search_vectors(user_id, kind, np.asarray(qvec, dtype=np.float32)[None, :], pool)[0]

    def query_entities(self, user_id: str, query: str) -> list[Entity]:
        """Entities the query names (by name or alias, up to three-word phrases)."""
        found = self.store.entities_by_names(user_id, _ngrams(query))
        unique = {e.uuid: e for ents in found.values() for e in ents}
        return list(unique.values())

    def _adjacent(self, user_id: str, ep: Episode) -> list[Episode]:
        """The episodes just before and just after ``ep`` in its thread (by time)."""
        if ep.thread_id is None:
            return []
        before = self.store.list_episodes(user_id, thread_id=ep.thread_id, until=ep.reference_time,
                                          limit=1, newest_first=True)
        after = self.store.list_episodes(user_id, thread_id=ep.thread_id,
                                         since=ep.reference_time + timedelta(microseconds=1), limit=1)
        return before + after

    def _rank_episodes(self, user_id: str, query: str, qvec: np.ndarray, pool: int,
                       rescore: bool = True) -> tuple[dict[str, float], dict[str, Episode]]:
        """Fused episode scores (vector + BM25), with neighbour and speaker rescoring; and the episodes read."""
        dense = dict(self._dense(user_id, "episode", qvec, pool))
        lexical = dict(self.store.search_text(user_id, "episode", query, pool))
        fused: dict[str, float] = {}
        for w, sc in zip(EPISODE_WEIGHTS, (dense, lexical)):
            if not sc:
                continue
            lo, hi = min(sc.values()), max(sc.values())
            for i, v in sc.items():
                fused[i] = fused.get(i, 0.0) + w * ((v - lo) / (hi - lo) if hi > lo else 1.0)
        scores = dict(fused)
        if not rescore:
            return scores, {}
        ranked = sorted(fused, key=fused.__getitem__, reverse=True)
        episodes = {e.uuid: e for e in self.store.get_episodes(user_id, ranked[:pool])}
        if NEIGHBOUR_WEIGHT and NEIGHBOUR_SOURCES:
            for uid in ranked[:NEIGHBOUR_SOURCES]:
                ep = episodes.get(uid)
                if ep is None:
                    continue
                for nb in self._adjacent(user_id, ep):
                    scores[nb.uuid] = scores.get(nb.uuid, 0.0) + NEIGHBOUR_WEIGHT * fused[uid]
                    episodes.setdefault(nb.uuid, nb)
        if DATE_BOOST:
            for start, end in query_dates(query)[:3]:
                for ep in self.store.list_episodes(user_id, since=start, until=end, limit=pool):
                    episodes.setdefault(ep.uuid, ep)
                    scores[ep.uuid] = scores.get(ep.uuid, 0.0) + DATE_BOOST
        if SPEAKER_BOOST:
            grams = {" ".join(g.casefold().split()) for g in _ngrams(query, n=3)}
            for uid, ep in episodes.items():
                if ep.name and uid in scores and normalize_name(ep.name) in grams:
                    scores[uid] *= 1.0 + SPEAKER_BOOST
        return scores, episodes

    def candidates(self, user_id: str, query: str, *, pool: int | None = None,
                   kinds: Sequence[str] = ("fact", "entity", "episode", "observation"),
                   budgeted: bool = True) -> Candidates:
        """Fused, reranked candidates of each kind asked for.

        ``budgeted``: the candidates fill a token budget (a context block), so episodes are ranked
        by relevance per length; ``search`` ranks by relevance alone.
        """
        pool = pool or self.pool
        out = Candidates()
        if not query.strip():
            return out
        qvec = self.embedder.embed_batch([query])[0]
        now = utcnow()
        named = self.query_entities(user_id, query)
        named_ids = [e.uuid for e in named]

        episode_scores: dict[str, float] = {}
        episodes: dict[str, Episode] = {}
        epool = max(pool, self.episode_pool)
        if "episode" in kinds or "fact" in kinds:
            episode_scores, episodes = self._rank_episodes(user_id, query, qvec, epool, "episode" in kinds)
            if budgeted and LENGTH_ALPHA and episodes:
                for uid, ep in episodes.items():
                    if uid in episode_scores and len(ep.content) > LENGTH_REF:
                        episode_scores[uid] *= (LENGTH_REF / len(ep.content)) ** LENGTH_ALPHA
        top_episodes = sorted(episode_scores, key=episode_scores.__getitem__, reverse=True)[:epool]

        if "fact" in kinds:
            bfs = [f.uuid for f in self.store.facts_touching(user_id, named_ids, limit=pool)] if named_ids else []
            supported = self.store.facts_of_episodes(user_id, top_episodes[: pool // 2])
            via_episodes = [fid for ep in top_episodes[: pool // 2] for fid in supported.get(ep, [])]
            scores = self._fused(user_id, "fact", query, qvec, pool,
                                 [(bfs, FACT_GRAPH_WEIGHT), (via_episodes, FACT_EPISODE_WEIGHT)])
            facts = self.store.get_facts(user_id, list(scores))
            rel = [scores[f.uuid] * (0.85 + 0.15 * recency_weight(f.valid_at, now)) for f in facts]
            order = sorted(range(len(facts)), key=lambda i: rel[i], reverse=True)[:pool]
            facts, rel = [facts[i] for i in order], [rel[i] for i in order]
            sets = {f.uuid: word_set(f.fact) for f in facts}
            ranked = mmr(facts, rel, lambda a, b: jaccard(sets[a.uuid], sets[b.uuid]), lambda_=0.75)
            by_id = dict(zip((f.uuid for f in facts), rel))
            out.facts = [(f, by_id[f.uuid]) for f in ranked]

        if "episode" in kinds:
            missing = [i for i in top_episodes if i not in episodes]
            episodes.update((e.uuid, e) for e in self.store.get_episodes(user_id, missing))
            out.episodes = [(episodes[i], episode_scores[i]) for i in top_episodes if i in episodes]

        if "entity" in kinds:
            endpoints = [u for f, _ in out.facts[:10] for u in (f.source_uuid, f.target_uuid)]
            scores = self._fused(user_id, "entity", query, qvec, pool, [(named_ids, 1.0), (endpoints, 0.5)])
            ids = sorted(scores, key=scores.__getitem__, reverse=True)[:pool]
            out.entities = [(e, scores[e.uuid]) for e in self.store.get_entities(user_id, ids)
                            if not e.attributes.get("is_user")]

        if "observation" in kinds:
            scores = self._fused(user_id, "observation", query, qvec, pool)
            ids = sorted(scores, key=scores.__getitem__, reverse=True)[:pool]
            out.observations = [(o, scores[o.uuid]) for o in self.store.get_observations(user_id, ids)]
        return out

    def search(self, user_id: str, query: str, scope: SearchScope, limit: int,
               filters: SearchFilters | None = None, *, relevance: bool = False) -> list[SearchResult]:
        """Ranked results of one scope, filters applied after fusion over a widened pool.

        ``relevance``: also set each hit's calibrated relevance (``relevance.attach_relevance``).
        """
        filters = filters or SearchFilters()
        kind = {"edges": "fact", "nodes": "entity", "episodes": "episode", "observations": "observation"}[scope.value]
        pool = max(self.pool, limit * 4)
        cands = self.candidates(user_id, query, pool=pool, kinds=(kind,), budgeted=False)
        results: list[SearchResult] = []
        if kind == "fact":
            for f, s in cands.facts:
                if _fact_ok(f, filters, self.store):
                    results.append(SearchResult(score=s, fact=f))
        elif kind == "entity":
            for e, s in cands.entities:
                if not filters.entity_types or e.type in filters.entity_types:
                    results.append(SearchResult(score=s, entity=e))
        elif kind == "episode":
            for ep, s in cands.episodes:
                if _episode_ok(ep, filters):
                    results.append(SearchResult(score=s, episode=ep))
        else:
            results = [SearchResult(score=s, observation=o) for o, s in cands.observations]
        return attach_relevance(self.embedder, query, results[:limit]) if relevance else results[:limit]


def _fact_ok(f: Fact, flt: SearchFilters, store: GraphStore) -> bool:
    if flt.valid_only and f.invalid_at is not None:
        return False
    if flt.as_of is not None and ((f.valid_at and f.valid_at > flt.as_of)
                                  or (f.invalid_at and f.invalid_at <= flt.as_of)):
        return False
    if flt.relations and f.relation not in flt.relations:
        return False
    if flt.since and (f.valid_at is None or f.valid_at < flt.since):
        return False
    if flt.until and (f.valid_at is None or f.valid_at >= flt.until):
        return False
    if flt.thread_id is not None:
        eps = store.get_episodes(f.user_id, f.episodes)
        if not any(e.thread_id == flt.thread_id for e in eps):
            return False
    return True


def _episode_ok(ep: Episode, flt: SearchFilters) -> bool:
    if flt.thread_id is not None and ep.thread_id != flt.thread_id:
        return False
    if flt.since and ep.reference_time < flt.since:
        return False
    if flt.until and ep.reference_time >= flt.until:
        return False
    return not (flt.as_of and ep.reference_time > flt.as_of)

