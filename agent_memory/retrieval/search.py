"""Hybrid retrieval over one user's graph: vector + BM25 + graph neighbourhood, fused and reranked."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import numpy as np

from .._time import utcnow
from ..embedding.base import Embedder
from ..models import Entity, Episode, Fact, Role, SearchResult, SearchScope
from ..storage.base import EpisodeHead, GraphStore, Kind
from ..text import content_words, normalize_name
from .candidates import Candidates, EarlySearches
from .filters import SearchFilters, episode_ok, fact_ok
from .fusion import add_scaled, mention_scores, minmax_fuse, rerank_facts, rrf
from .knobs import Knobs
from .memo import ReadMemo
from .question import asked_types, asks_for_many, name_grams, name_phrases, without
from .relevance import attach_relevance
from .rescore import Rescoring
from .when import event_anchor, query_dates

__all__ = ["Candidates", "Knobs", "Retriever", "SearchFilters", "query_dates"]

R = TypeVar("R")
_EVENT_HITS = 5  # the turns read for the one that dates an event (beside the caller's own)


class Retriever:
    """Finds what a query needs from the user's graph, within a candidate pool per kind."""

    def __init__(self, store: GraphStore, embedder: Embedder, *, pool: int = 40,
                 episode_pool: int | None = None) -> None:
        self.store, self.embedder, self.pool = store, embedder, pool
        # Episodes are the bulk of a block (a 4k-token block holds ~100 chat turns): rank more of them
        # (``Knobs.episode_pool_factor`` times ``pool`` unless given).
        self.episode_pool = episode_pool
        self.knobs = Knobs()
        # Facts, entities and observations are searched on a side thread while the episodes are
        # ranked (the index and SQLite release the GIL): the two cores share one context's wait.
        self._side = ThreadPoolExecutor(max_workers=4, thread_name_prefix="agent-memory-search")
        self.memo = ReadMemo()

    def close(self) -> None:
        """Stop the side threads (after the searches they run have finished)."""
        self._side.shutdown(wait=True)

    def _start(self, fn: Callable[..., R], *args: Any) -> Callable[[], R]:
        """Start ``fn(*args)`` on a side thread now; the returned call waits for its result. Once the
        retriever is closed it runs at once, inline (where the closed store says so)."""
        try:
            return self._side.submit(fn, *args).result
        except RuntimeError:  # the side threads are shut down
            result = fn(*args)
            return lambda: result

    def _text_hits(self, user_id: str, pools: dict[Kind, int], query: str) -> dict[Kind, list[tuple[str, float]]]:
        return {k: self.store.search_text(user_id, k, query, n) for k, n in pools.items()}

    def _dense_hits(self, user_id: str, pools: dict[Kind, int],
                    qvec: np.ndarray) -> dict[Kind, list[tuple[str, float]]]:
        return {k: self._dense(user_id, k, qvec, n) for k, n in pools.items()}

    def _named_ids(self, user_id: str, query: str) -> list[str]:
        return [e.uuid for e in self.query_entities(user_id, query)]

    def _touching_named(self, user_id: str, named: Callable[[], list[str]], limit: int) -> list[Fact]:
        """``store.facts_touching`` of the entities the question names, once ``named`` has them (it was
        started first on the side threads, so this never waits for a task queued after it)."""
        ids = named()
        return self.store.facts_touching(user_id, ids, limit) if ids else []

    def _fused(self, kind: Kind, found: tuple[Callable[[], dict[Kind, list[tuple[str, float]]]],
                                              Callable[[], dict[Kind, list[tuple[str, float]]]]],
               extra: Sequence[tuple[Sequence[str], float]] = (),
               weights: tuple[float, float] = (1.0, 1.0), k: int = 60,
               sims: dict[str, float] | None = None) -> dict[str, float]:
        """Vector, BM25 and ``extra`` rankings fused by RRF; ``sims`` collects the vector hits' cosines.

        ``found``: the vector and the BM25 hits of each kind, searched on side threads.
        """
        hits, text = found[0]()[kind], found[1]()[kind]
        if sims is not None:
            sims.update(hits)
        dense = [i for i, _ in hits]
        lexical = [i for i, _ in text]
        lists = [dense, lexical, *[list(ids) for ids, _ in extra]]
        return rrf(lists, weights=[*weights, *[w for _, w in extra]], k=k)

    def _found_facts(self, user_id: str, found: tuple[Callable[[], dict[Kind, list[tuple[str, float]]]], ...],
                     touching: Callable[[], list[Fact]] | None) -> dict[str, Fact]:
        """The facts the vector and BM25 searches found, by id (those touching the named entities are read
        with them): ranking needs them after the episodes, and the read is then off its path."""
        near = {f.uuid for f in touching()} if touching is not None else set()
        ids = dict.fromkeys(i for hits in found for i, _ in hits().get("fact", []) if i not in near)
        return {f.uuid: f for f in self.store.get_facts(user_id, list(ids))}

    def _overlapped(self, fn: Callable[..., R], *args: Any) -> Callable[[], R] | None:
        """``_start`` where reads are round trips to a server (they then overlap the ranking); else
        None, and the caller reads when it needs it: in-process, the side thread's handoffs cost more
        than the read (3 ms of CPU a context on the embedded store, for the same blocks)."""
        return self._start(fn, *args) if self.store.round_trips else None

    def _dense(self, user_id: str, kind: Kind, qvec: np.ndarray, pool: int) -> list[tuple[str, float]]:
        return self.store.search_vectors(user_id, kind, np.asarray(qvec, dtype=np.float32)[None, :], pool)[0]

    def query_entities(self, user_id: str, query: str) -> list[Entity]:
        """Entities the query names (by name or alias, up to three-word phrases; "Melanie's" names Melanie)."""
        found = self.store.entities_by_names(user_id, name_phrases(query))
        unique = {e.uuid: e for ents in found.values() for e in ents}
        return list(unique.values())

    def _fuse(self, dense: dict[str, float], lexical: dict[str, float]) -> dict[str, float]:
        """The vector and BM25 hits on one scale (``minmax_fuse``), with the knobs' weights."""
        return minmax_fuse([(dense, self.knobs.dense_weight), (lexical, self.knobs.bm25_weight)])

    def _type_hits(self, user_id: str, types: set[str], pool: int) -> dict[str, float]:
        """The turns that mention entities of these types, through the graph (``mention_scores``).

        Reading every mention of a kind costs up to a few ms at 10k episodes and does not depend on
        the question, so it is kept for ``TYPED_TTL`` seconds per user and types; a delete through
        this memory forgets it at once (``forget``). Turns added meanwhile join by their words.
        """
        kept = self.memo.typed(user_id, frozenset(types), pool)
        if kept is not None:
            return kept
        hits = mention_scores(self.store.mentions_of_types(user_id, sorted(types)), pool)
        self.memo.keep_typed(user_id, frozenset(types), pool, hits)
        return hits

    def forget(self, user_id: str) -> None:
        """Drop what the retriever keeps of a user's records (after a delete)."""
        self.memo.forget(user_id)

    def _read_heads(self, user_id: str, heads: dict[str, EpisodeHead], ids: Iterable[str],
                    got: dict[str, EpisodeHead] | None = None) -> None:
        """Add to ``heads`` those of ``ids`` it lacks (one read at most)."""
        heads.update(self._heads(user_id, [i for i in ids if i not in heads], got))

    def _heads(self, user_id: str, ids: Sequence[str],
               got: dict[str, EpisodeHead] | None = None) -> dict[str, EpisodeHead]:
        """``store.episode_heads``, the ones read in the last minute from the memo (a head never changes)
        and those in ``got`` (heads that came with a search or a neighbour read) without a read."""
        kept, got = self.memo.heads(user_id), got or {}
        new = {i: got[i] for i in ids if i not in kept and i in got}
        missing = [i for i in ids if i not in kept and i not in new]
        if missing:
            new.update(self.store.episode_heads(user_id, missing))
        if new:
            self.memo.keep_heads(user_id, new)
        return {i: h for i in ids if (h := kept.get(i) or new.get(i)) is not None}

    def _rank_episodes(self, user_id: str, query: str, qvec: np.ndarray, pool: int,
                       rescore: bool = True, now: datetime | None = None,
                       known: tuple[str, np.ndarray] | None = None, sims: dict[str, float] | None = None,
                       early: EarlySearches | None = None,
                       ) -> tuple[dict[str, float], dict[str, EpisodeHead], dict[str, Episode]]:
        """Fused episode scores (vector + BM25), with neighbour, date and speaker rescoring; the heads
        of the episodes ranked, and the whole episodes read on the way (neighbours, a date's turns).

        Ranking reads heads only (who, when, how long): whole episodes are read for the block alone.
        ``known``: the question without the people it names and its vector (one index call for both).
        ``early``: the searches that need no vector, started on the side thread before the embedding.
        """
        early = early or EarlySearches()
        kn = self.knobs
        got: dict[str, EpisodeHead] = {}  # heads that came with the searches and neighbour reads
        if known is not None:  # both vector rankings in one index call
            both = np.stack([np.asarray(qvec, dtype=np.float32), np.asarray(known[1], dtype=np.float32)])
            first, by_content = self.store.search_vectors(user_id, "episode", both, pool)
        else:
            first, by_content = self._dense(user_id, "episode", qvec, pool), []
        dense = dict(first)
        if sims is not None:
            sims.update(first)
        # A question naming people is first ranked by BM25 of the rest of it (``early.by_rest``): the
        # names would match every turn of their speakers, thousands at 10k episodes, for nothing (see
        # below); the whole question's BM25 is read only if none of them speaks.
        by_rest = early.by_rest
        text, found = early.bm25() if early.bm25 is not None else self.store.search_episode_text(user_id, query, pool)
        lexical = dict(text)
        got.update(found)
        fused = self._fuse(dense, lexical)
        if not rescore:
            return fused, {}, {}
        ranked = sorted(fused, key=fused.__getitem__, reverse=True)
        heads = self._heads(user_id, ranked[:pool], got)
        full: dict[str, Episode] = {}
        grams = name_grams(query)
        names = {normalize_name(h.name) for h in heads.values() if h.name}
        self.memo.heard(user_id, names)
        speakers = {n for n in names if n in grams}
        content = without(query, speakers) if speakers else ""
        if by_rest and not content_words(content) and known is not None:
            # No one named speaks among the turns found (others' turns crowd theirs out, or the guess was
            # wrong): the turns with a name that share a word with the question join the ranking, all of
            # them (scored with the name's words; a server's scores are not on the first search's scale),
            # without the flood of every other turn of theirs.
            text, found = self.store.search_episode_text(user_id, known[0], pool, among=early.people)
            lexical = {**lexical, **dict(text)}
            got.update(found)
            fused = self._fuse(dense, lexical)
            ranked = sorted(fused, key=fused.__getitem__, reverse=True)
            heads = {i: heads[i] for i in ranked[:pool] if i in heads}
            self._read_heads(user_id, heads, ranked[:pool], got)
        about = lexical  # the turns that share a word with what the question asks about
        if speakers and content_words(content):
            # A turn is indexed as "name: content": with the name in the query every turn of that
            # speaker matches it. Who said it filters the turns about the question; it wins nothing
            # alone: BM25 and the vector rank the question without the name.
            same = known is not None and known[0] == content
            if not (same and by_rest):
                text, found = self.store.search_episode_text(user_id, content, pool)
                lexical = dict(text)
                got.update(found)
            about = lexical
            if known is not None and same:
                dense = dict(by_content)
            else:
                cvec = self.embedder.embed_batch([content])[0]
                dense = dict(self._dense(user_id, "episode", cvec, pool))
            if kn.speaker_gate_cos:  # near in meaning counts as about it too, sharing a word or not
                about = {**about, **{i: v for i, v in dense.items() if v >= kn.speaker_gate_cos}}
            fused = self._fuse(dense, lexical)
            ranked = sorted(fused, key=fused.__getitem__, reverse=True)
            self._read_heads(user_id, heads, ranked[:pool], got)
        types = asked_types(query) if kn.type_weight else set()
        if types:
            typed = early.typed() if early.typed is not None else self._type_hits(user_id, types, pool)
            # a question asking for a kind of thing ("which cities", "what books") is answered by turns
            # naming things of that kind: the graph knows which entities are places or works
            fused = add_scaled(fused, typed, kn.type_weight)
            self._read_heads(user_id, heads, fused, got)
        step = Rescoring(self.store, user_id, kn, partial(self._read_heads, user_id), dict(fused), heads, got, full)
        step.neighbours(fused, ranked, speakers)
        step.dates(query_dates(query, now)[:4] if kn.date_boost else [], pool)
        if early.dated is not None:
            step.event(early.dated(), early.side)
        if kn.speaker_boost and speakers:
            step.speaker(speakers, about)
        if kn.opener_weight and asks_for_many(query):
            step.openers(2 * self.pool)
        return step.scores, heads, full

    def _dated_turn(self, user_id: str, event: str,
                    exclude: Collection[str]) -> tuple[str | None, dict[str, EpisodeHead]]:
        """The turn that best matches the event a question is dated by (BM25), and the heads that came
        with the search. Not one of the caller's own messages, nor a turn that is itself dated by an event
        (an earlier "what did I buy before getting the Air Fryer?"): those name the event in the question's
        own words, better than the turn that told it, but later."""
        hits, found = self.store.search_episode_text(user_id, event, len(exclude) + _EVENT_HITS)
        ids = [i for i, _ in hits if i not in exclude]
        told = {e.uuid: e for e in self.store.get_episodes(user_id, ids)} if ids else {}
        return next((i for i in ids if i in told and event_anchor(told[i].content) is None), None), found

    def candidates(self, user_id: str, query: str, *, pool: int | None = None,
                   kinds: Sequence[str] = ("fact", "entity", "episode", "observation"),
                   budgeted: bool = True, now: datetime | None = None, shown: int | None = None,
                   exclude: Collection[str] = ()) -> Candidates:
        """Fused, reranked candidates of each kind asked for.

        ``budgeted``: the candidates fill a token budget (a context block), so episodes are ranked
        by relevance per length; ``search`` ranks by relevance alone. ``now``: the question's own
        date, against which relative phrases ("last week") are read (none: they are not). ``shown``:
        the most entities or observations the block can show (none: no limit, rank ``pool``).
        ``exclude``: the caller's own latest messages (ranked all the same; the caller drops them), which
        never date an event the question names.
        """
        pool = pool or self.pool
        kn = self.knobs
        out = Candidates()
        if not query.strip():
            return out
        speaking = self.memo.speakers(user_id)
        # once the speakers are known the embedding does not need the entities the question names: where
        # reads are round trips they are read beside it (see ``_overlapped``)
        later = self._overlapped(self._named_ids, user_id, query) if speaking else None
        named = [] if later is not None else self.query_entities(user_id, query)
        named_ids = [e.uuid for e in named]
        # the question without the people it names, embedded in the same call (one model run): the
        # vector ranking of a named speaker's turns uses it (see ``_rank_episodes``)
        people = {normalize_name(e.name) for e in named if e.type == "Person"}
        # a guess that only saves work (the speakers are read from the ranked turns either way): the
        # names in the question heard speaking before, whatever type the extractor gave them; while no
        # one has been heard, the Person entities it names ("Writing" may be one). Once the speakers
        # are known, a named person who never spoke (a friend the user talks about) is no guess: a
        # wrong one costs a second BM25 of the whole question on the read's path.
        heard = speaking & name_grams(query)
        people = set(heard) if speaking else people
        content = without(query, people) if people else ""
        texts = [query, content] if content_words(content) else [query]
        epool = max(pool, self.episode_pool or round(kn.episode_pool_factor * pool))
        # a search returns what it ranks: only a block's pools shrink by their factors
        fpool = max(1, round(kn.fact_pool_factor * pool)) if budgeted else pool
        spool = max(round(kn.side_pool_factor * pool), shown) if budgeted and shown is not None else pool
        ranks_episodes = "episode" in kinds or "fact" in kinds
        rescore = "episode" in kinds
        wanted: list[tuple[Kind, int]] = [("fact", fpool), ("entity", spool), ("observation", spool)]
        side = {k: n for k, n in wanted if k in kinds}
        # What needs no vector starts on side threads while the model embeds the query: the BM25
        # searches, the named entities' facts, and the episode reads the ranking may ask for.
        early = EarlySearches()
        if ranks_episodes:
            # a named speaker's turns are ranked by the rest of the question
            early.by_rest = rescore and len(texts) == 2
            early.people = tuple(sorted(people))
            early.bm25 = self._start(self.store.search_episode_text, user_id, content if early.by_rest else query,
                                     epool)
            types = asked_types(query) if rescore and kn.type_weight else set()
            if types:
                early.typed = self._start(self._type_hits, user_id, types, epool)
            anchor = event_anchor(query) if rescore and kn.event_boost else None
            if anchor is not None:  # read beside the embedding where reads are round trips (``_overlapped``)
                early.side = anchor[0]
                early.dated = (self._overlapped(self._dated_turn, user_id, anchor[1], exclude)
                               or partial(self._dated_turn, user_id, anchor[1], exclude))
        side_text = self._start(self._text_hits, user_id, side, query)
        if later is not None:
            touching = self._start(self._touching_named, user_id, later, fpool) if "fact" in kinds else None
        else:
            touching = (self._start(self.store.facts_touching, user_id, named_ids, fpool)
                        if "fact" in kinds and named_ids else None)
        vecs = self.embedder.embed_batch(texts)
        qvec = vecs[0]
        known = (content, vecs[1]) if len(texts) == 2 else None
        sims = out.similarity
        found = (self._start(self._dense_hits, user_id, side, qvec), side_text)
        # the facts those searches found, read beside the episodes' ranking (see ``_overlapped``)
        side_facts = self._overlapped(self._found_facts, user_id, found, touching) if "fact" in kinds else None

        episode_scores: dict[str, float] = {}
        heads: dict[str, EpisodeHead] = {}
        episodes: dict[str, Episode] = {}
        if ranks_episodes:
            episode_scores, heads, episodes = self._rank_episodes(user_id, query, qvec, epool, rescore,
                                                                  now, known, sims, early)
            if budgeted and kn.length_alpha:
                for uid, h in heads.items():
                    if uid in episode_scores and h.length > kn.length_ref:
                        episode_scores[uid] *= (kn.length_ref / h.length) ** kn.length_alpha
        top_episodes = sorted(episode_scores, key=episode_scores.__getitem__, reverse=True)[:epool]
        # the block's whole episodes, read beside the facts' ranking (see ``_overlapped``)
        unread = [i for i in top_episodes if i not in episodes]
        whole = self._overlapped(self.store.get_episodes, user_id, unread) if "episode" in kinds else None

        if "fact" in kinds:
            near = {f.uuid: f for f in touching()} if touching is not None else {}
            bfs = list(near)
            supported = self.store.facts_of_episodes(user_id, top_episodes[: fpool // 2])
            via_episodes = [fid for ep in top_episodes[: fpool // 2] for fid in supported.get(ep, [])]
            scores = self._fused("fact", found,
                                 [(bfs, kn.fact_graph_weight), (via_episodes, kn.fact_episode_weight)], sims=sims)
            early_facts = side_facts() if side_facts is not None else {}
            read = {**early_facts, **{f.uuid: f for f in self.store.get_facts(
                user_id, [i for i in scores if i not in near and i not in early_facts])}}
            facts = [f for i in scores if (f := near.get(i) or read.get(i)) is not None]
            if not kn.fact_assistant:  # what the assistant said is advice, not the user's life
                sources = {u for f in facts for u in f.episodes}
                said = {u: heads[u] for u in sources if u in heads}  # the ranking read most of them
                said.update(self._heads(user_id, sorted(sources - said.keys())))
                facts = [f for f in facts if not f.episodes or any(
                    u in said and said[u].role != Role.assistant for u in f.episodes)]
            out.facts = rerank_facts(facts, scores, now or utcnow(), fpool, kn.fact_keep)

        if "episode" in kinds:
            read_eps = whole() if whole is not None else self.store.get_episodes(user_id, unread)
            episodes.update((e.uuid, e) for e in read_eps)
            out.episodes = [(episodes[i], episode_scores[i]) for i in top_episodes if i in episodes]
            out.episode_order = {e.uuid: heads[e.uuid].seq for e, _ in out.episodes if e.uuid in heads}

        if "entity" in kinds:
            endpoints = [u for f, _ in out.facts[:10] for u in (f.source_uuid, f.target_uuid)]
            if later is not None:
                named_ids = later()
            scores = self._fused("entity", found, [(named_ids, 1.0), (endpoints, 0.5)], sims=sims)
            ids = sorted(scores, key=scores.__getitem__, reverse=True)[:spool]
            out.entities = [(e, scores[e.uuid]) for e in self.store.get_entities(user_id, ids)
                            if not e.attributes.get("is_user")]

        if "observation" in kinds:
            scores = self._fused("observation", found, sims=sims)
            ids = sorted(scores, key=scores.__getitem__, reverse=True)[:spool]
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
                if fact_ok(f, filters, self.store):
                    results.append(SearchResult(score=s, fact=f))
        elif kind == "entity":
            for e, s in cands.entities:
                if not filters.entity_types or e.type in filters.entity_types:
                    results.append(SearchResult(score=s, entity=e))
        elif kind == "episode":
            for ep, s in cands.episodes:
                if episode_ok(ep, filters):
                    results.append(SearchResult(score=s, episode=ep))
        else:
            results = [SearchResult(score=s, observation=o) for o, s in cands.observations]
        if not relevance:
            return results[:limit]
        return attach_relevance(self.embedder, query, results[:limit], known=cands.similarity)

