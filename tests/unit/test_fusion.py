"""Rank fusion and MMR behave as documented."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import TypeVar

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from agent_memory.models import Fact
from agent_memory.retrieval.fusion import (
    add_scaled,
    jaccard_matrix,
    mention_scores,
    minmax_fuse,
    mmr_order,
    rerank_facts,
    rrf,
    word_set,
)

T = TypeVar("T")


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """The reference form: |a & b| / |a | b| (0 for two empty sets)."""
    return len(a & b) / len(a | b) if a or b else 0.0


def mmr(items: Sequence[T], relevance: Sequence[float], similarity: Callable[[T, T], float], *,
        lambda_: float = 0.7, limit: int | None = None) -> list[T]:
    """The reference form of maximal marginal relevance: pairwise similarity calls, Python's ``max``."""
    if not items:
        return []
    top = max(relevance) or 1.0
    rel = [r / top for r in relevance]
    remaining = list(range(len(items)))
    chosen: list[int] = []
    limit = len(items) if limit is None else min(limit, len(items))
    closest = [0.0] * len(items)
    while remaining and len(chosen) < limit:
        if chosen:
            best = max(remaining, key=lambda i: lambda_ * rel[i] - (1 - lambda_) * closest[i])
        else:
            best = max(remaining, key=rel.__getitem__)
        chosen.append(best)
        remaining.remove(best)
        for i in remaining:
            closest[i] = max(closest[i], similarity(items[i], items[best]))
    return [items[i] for i in chosen]


def test_rrf_rewards_agreement() -> None:
    scores = rrf([["a", "b", "c"], ["b", "a", "d"]])
    assert max(scores, key=scores.__getitem__) in {"a", "b"} and scores["a"] == scores["b"]
    assert scores["c"] < scores["a"] and scores["d"] < scores["a"]


@given(st.lists(st.lists(st.sampled_from("abcdefgh"), unique=True), min_size=1, max_size=4))
def test_rrf_scores_every_ranked_id_positively(rankings: list[list[str]]) -> None:
    scores = rrf(rankings)
    assert set(scores) == {x for r in rankings for x in r}
    assert all(s > 0 for s in scores.values())


def test_mmr_prefers_diverse_items() -> None:
    items = ["jane lives in denver", "jane lives in denver now", "jane works at acme"]
    matrix = jaccard_matrix([word_set(t) for t in items])
    picked = [items[i] for i in mmr_order([1.0, 0.99, 0.8], matrix, lambda_=0.5, limit=2)]
    assert picked == ["jane lives in denver", "jane works at acme"]


@given(st.lists(st.floats(0.01, 1.0), min_size=1, max_size=10))
def test_mmr_returns_a_permutation(rel: list[float]) -> None:
    items = list(range(len(rel)))
    assert sorted(mmr_order(rel, np.zeros((len(rel), len(rel))))) == items


_TEXTS = st.lists(st.text(alphabet="abcde ", max_size=12), min_size=0, max_size=12)


@given(_TEXTS, st.data())
def test_mmr_over_a_jaccard_matrix_picks_what_mmr_picks(texts: list[str], data: st.DataObject) -> None:
    # the block's facts are diversified over a precomputed matrix: the same order as the pairwise form
    rel = data.draw(st.lists(st.sampled_from([0.0, 0.2, 0.5, 0.5, 1.0]), min_size=len(texts), max_size=len(texts)))
    limit = data.draw(st.none() | st.integers(0, 14))
    sets = [word_set(t) for t in texts]
    matrix = jaccard_matrix(sets)
    assert all(matrix[i, j] == jaccard(a, b) for i, a in enumerate(sets) for j, b in enumerate(sets))
    items = list(range(len(texts)))
    expected = mmr(items, rel, lambda a, b: jaccard(sets[a], sets[b]), lambda_=0.75, limit=limit)
    assert mmr_order(rel, matrix, lambda_=0.75, limit=limit) == expected


def test_a_question_naming_a_calendar_date_reads_that_day_or_month() -> None:

    from agent_memory.retrieval.search import query_dates

    day = datetime(2023, 6, 3, tzinfo=timezone.utc)
    for text in ("What did Jane do on 3 June, 2023?", "What happened on June 3rd, 2023?", "Notes from 2023-06-03"):
        [(start, end)] = query_dates(text)
        assert start < day < end and (end - start).days == 3  # the day, padded a day each side for time zones
    [(start, end)] = query_dates("Where was she in June 2023?")
    # the month, and the week after it: what happened in June is often told in early July
    assert (start, end) == (datetime(2023, 6, 1, tzinfo=timezone.utc), datetime(2023, 7, 8, tzinfo=timezone.utc))
    assert query_dates("What did she do last week?") == []  # no date of its own to count back from
    [(start, _)] = query_dates("31 February 2023")  # no such day: the month is still meant
    assert start == datetime(2023, 2, 1, tzinfo=timezone.utc)


def test_mention_scores_favour_turns_naming_more_and_rarer_things() -> None:
    # "paris" is named in four turns, "lyon" in two: the turn naming both ranks first, then lyon's other one
    mentions = [("paris", "t1"), ("paris", "t2"), ("paris", "t3"), ("paris", "t4"), ("lyon", "t4"), ("lyon", "t5")]
    scores = mention_scores(mentions, 10)
    assert list(scores) == ["t4", "t5", "t1", "t2", "t3"]  # ties in id order
    assert scores["t1"] == scores["t2"] == scores["t3"] < scores["t5"] < scores["t4"]
    assert list(mention_scores(mentions, 2)) == ["t4", "t5"]
    assert mention_scores(list(reversed(mentions)), 10) == scores  # the same floats whatever the read order
    assert mention_scores([], 10) == {}


@given(st.dictionaries(st.sampled_from("abcdef"), st.floats(-50, 50)), st.dictionaries(st.sampled_from("abcdef"),
       st.floats(0, 30)))
def test_minmax_fusion_puts_each_list_on_one_scale(dense: dict[str, float], lexical: dict[str, float]) -> None:
    fused = minmax_fuse([(dense, 0.7), (lexical, 1.0)])
    assert set(fused) == set(dense) | set(lexical)
    assert all(-1e-9 <= v <= 1.7 + 1e-9 for v in fused.values())  # a list's best adds its whole weight
    if dense and lexical:
        best = max(dense, key=dense.__getitem__)
        assert fused[best] >= 0.7 - 1e-9


def test_minmax_fusion_of_tied_hits_counts_each_fully() -> None:
    assert minmax_fuse([({"a": 3.0, "b": 3.0}, 0.5), ({}, 1.0)]) == {"a": 0.5, "b": 0.5}


def test_add_scaled_gives_the_best_hit_the_whole_weight() -> None:
    scores = {"a": 1.0, "b": 0.5}
    out = add_scaled(scores, {"b": 4.0, "c": 2.0}, 0.3)
    assert out == {"a": 1.0, "b": 0.8, "c": 0.15}
    assert scores == {"a": 1.0, "b": 0.5}  # the caller's scores are left as they were
    assert add_scaled(scores, {}, 0.3) == scores


def _fact(text: str, days_ago: int, now: datetime) -> Fact:
    return Fact(user_id="u", source_uuid="s", target_uuid="t", relation="R", fact=text,
                valid_at=now - timedelta(days=days_ago))


def test_rerank_facts_keeps_the_relevant_and_drops_the_far_below() -> None:
    now = datetime(2024, 6, 1, tzinfo=timezone.utc)
    strong = _fact("Jane moved to Denver", 1, now)
    twin = _fact("Jane moved to Denver in March", 1, now)
    other = _fact("Jane works at Acme as an engineer", 400, now)
    weak = _fact("Jane likes tea", 1, now)
    scores = {strong.uuid: 1.0, twin.uuid: 0.95, other.uuid: 0.9, weak.uuid: 0.2}
    ranked = rerank_facts([weak, other, twin, strong], scores, now, limit=10, keep=0.5)
    assert [f for f, _ in ranked][0] is strong
    assert weak not in [f for f, _ in ranked]  # below half the best: gives way
    assert [f for f, _ in ranked][1] is other  # the near-copy of the best waits behind a different fact
    assert len(rerank_facts([weak, other, twin, strong], scores, now, limit=2, keep=0.0)) == 2
