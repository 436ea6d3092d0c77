"""The benchmark's metric code on tiny synthetic data: evidence, recall@k, coverage, budgets, RRF."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from agent_memory.context.render import ContextParts, render_context
from agent_memory.testing.fakes import HashEmbedder
from benchmarks.baselines import BASELINE_TEMPLATE, CachingEmbedder, TurnBaselines, turn_episode
from benchmarks.data import (
    History,
    Session,
    Turn,
    load_locomo,
    load_longmemeval,
    parse_evidence,
    parse_locomo_date,
    parse_longmemeval_date,
)
from benchmarks.metrics import Scores, coverage, fill_budget, percentile, recall_at_k, rrf_fuse

KNOWN = frozenset({"D1:3", "D8:6", "D9:17", "D11:26", "D1:18", "D1:20"})


def test_evidence_is_split_repaired_and_filtered() -> None:
    assert parse_evidence(["D8:6; D9:17"], KNOWN) == ("D8:6", "D9:17")
    assert parse_evidence(["D:11:26"], KNOWN) == ("D11:26",)
    assert parse_evidence(["D1:18", "D", "D1:20"], KNOWN) == ("D1:18", "D1:20")  # "D" names no turn
    assert parse_evidence(["D1:3", "D1:3", "D99:1"], KNOWN) == ("D1:3",)  # duplicate and unknown dropped
    assert parse_evidence("D01:03", KNOWN) == ("D1:3",)
    assert parse_evidence([], KNOWN) == ()


def test_dates() -> None:
    assert parse_locomo_date("1:56 pm on 8 May, 2023") == datetime(2023, 5, 8, 13, 56, tzinfo=timezone.utc)
    assert parse_longmemeval_date("2023/08/11 (Fri) 15:58") == datetime(2023, 8, 11, 15, 58, tzinfo=timezone.utc)


def test_recall_at_k_counts_evidence_in_the_first_k_items() -> None:
    ranked = ["a", None, {"b", "x"}, "c", "d"]
    assert recall_at_k(ranked, ["a", "b"], 1) == 0.5
    assert recall_at_k(ranked, ["a", "b"], 2) == 0.5  # an item that carries no turn still takes a slot
    assert recall_at_k(ranked, ["a", "b"], 3) == 1.0  # a fact carries the turns of its episodes
    assert recall_at_k(ranked, ["z"], 5) == 0.0
    assert recall_at_k(["a", "a", "a"], ["a", "b"], 3) == 0.5
    with pytest.raises(ValueError):
        recall_at_k(ranked, [], 5)


def test_coverage_is_the_share_of_evidence_carried() -> None:
    assert coverage({"a", "b", "x"}, ["a", "b", "c", "d"]) == 0.5
    assert coverage(set(), ["a"]) == 0.0


def test_fill_budget_is_greedy_and_skips_what_does_not_fit() -> None:
    costs = {"a": 5, "b": 8, "c": 2, "d": 3}
    assert fill_budget(list("abcd"), costs.__getitem__, 10) == ["a", "c", "d"]  # b skipped, later ones fit
    assert fill_budget(list("abcd"), costs.__getitem__, 10, overhead=6) == ["c"]
    groups = {"a": 1, "b": 1, "c": 2, "d": 2}
    # the first item of each group pays the group's line (4 here)
    assert fill_budget(list("abcd"), costs.__getitem__, 20, group=groups.__getitem__,
                       group_cost=lambda _: 4) == ["a", "b"]
    assert fill_budget(list("acd"), costs.__getitem__, 20, group=groups.__getitem__,
                       group_cost=lambda _: 4) == ["a", "c", "d"]


def test_rrf_fuses_ranks_with_stable_ties() -> None:
    assert rrf_fuse([["a", "b", "c"], ["b", "a", "d"]])[:2] == ["a", "b"]  # tie: first seen first
    fused = rrf_fuse([["a", "b"], ["c", "b"]])
    assert fused[0] == "b" and set(fused) == {"a", "b", "c"}
    assert rrf_fuse([[], []]) == []


def test_scores_average_per_question_and_by_category() -> None:
    s = Scores()
    s.add("x", {"recall@5": 1.0})
    s.add("x", {"recall@5": 0.0})
    s.add("y", {"recall@5": 0.5})
    assert s.overall()["recall@5"] == pytest.approx(0.5) and s.overall()["n"] == 3
    assert s.overall(["x"])["recall@5"] == 0.5
    assert s.by_category()["y"] == {"recall@5": 0.5, "n": 1}


def test_percentile() -> None:
    assert percentile([1, 2, 3, 4, 5], 50) == 3
    assert percentile([10, 20], 95) == pytest.approx(19.5)


def _history() -> History:
    t0 = datetime(2023, 5, 8, 13, 56, tzinfo=timezone.utc)
    s1 = Session("s1", t0, [Turn("D1:1", "user", "Ann", "I adopted a puppy named Rex"),
                            Turn("D1:2", "user", "Bob", "Congrats! What breed is he?"),
                            Turn("D1:3", "user", "Ann", "A beagle, three months old")])
    s2 = Session("s2", t0 + timedelta(days=3), [Turn("D2:1", "user", "Bob", "I started a pottery class"),
                                                Turn("D2:2", "user", "Ann", "Pottery sounds relaxing")])
    return History("h", [s1, s2])


def test_turn_baselines_rank_and_fill_like_the_renderer() -> None:
    base = TurnBaselines(_history(), HashEmbedder())
    ranks = base.rankings("pottery class")
    assert base.turns[ranks["bm25"][0]].tid == "D2:1"
    assert set(ranks["dense"]) == set(range(5)) and set(ranks["bm25"]) <= set(ranks["rrf"])
    for budget in (20, 40, 80, 400):
        chosen, tokens = base.block(ranks["rrf"], budget)
        assert tokens <= budget
        # what the renderer keeps from the whole ranking is exactly what the baseline reports
        whole = render_context(BASELINE_TEMPLATE, ContextParts(episodes=[base.episodes[i] for i in ranks["rrf"]]),
                               budget)
        assert [e.uuid for e in whole.episodes] == [base.turns[i].tid for i in chosen]
        assert whole.tokens == tokens


def test_turn_episode_keeps_the_turn_id_and_speaker() -> None:
    ep = turn_episode(Turn("D1:1", "user", "Ann", "hello"), datetime(2023, 1, 1, tzinfo=timezone.utc))
    assert ep.uuid == "D1:1" and ep.name == "Ann" and ep.content == "hello"


def test_caching_embedder_returns_the_same_vectors(tmp_path: Path) -> None:
    inner = HashEmbedder()
    cache = CachingEmbedder(inner, tmp_path / "c.npz")
    first = cache.embed_batch(["a b", "c d", "a b"])
    assert (first == inner.embed_batch(["a b", "c d", "a b"])).all()
    cache.save()
    again = CachingEmbedder(inner, tmp_path / "c.npz")
    assert len(again._cache) == 2 and (again.embed_batch(["c d"])[0] == first[1]).all()


def test_loaders_read_both_formats(tmp_path: Path) -> None:
    locomo = [{"sample_id": "c1", "conversation": {
        "speaker_a": "Ann", "speaker_b": "Bob",
        "session_1": [{"speaker": "Ann", "dia_id": "D1:1", "text": "Look!", "blip_caption": "a photo of a dog"},
                      {"speaker": "Bob", "dia_id": "D1:2", "text": "Cute"}],
        "session_1_date_time": "1:56 pm on 8 May, 2023"},
        "qa": [{"question": "What did Ann show?", "answer": "a dog", "evidence": ["D1:1; D1:2"], "category": 4},
               {"question": "Unanswerable?", "adversarial_answer": "x", "evidence": [], "category": 5}]}]
    (tmp_path / "l.json").write_text(json.dumps(locomo))
    [h] = load_locomo(tmp_path / "l.json")
    assert h.turns[0].text == "Look! [shares a photo: a photo of a dog]" and h.turns[0].speaker == "Ann"
    assert [q.evidence for q in h.questions] == [("D1:1", "D1:2")] and h.questions[0].category == "single-hop"

    lme = [{"question_id": "q1", "question_type": "single-session-user", "question": "Where?",
            "question_date": "2023/05/30 (Tue) 10:00", "answer": "Paris", "answer_session_ids": ["s2"],
            "haystack_session_ids": ["s1", "s2"],
            "haystack_dates": ["2023/05/01 (Mon) 09:00", "2023/05/02 (Tue) 09:00"],
            "haystack_sessions": [[{"role": "user", "content": "hi"}],
                                  [{"role": "user", "content": "I moved to Paris", "has_answer": True},
                                   {"role": "assistant", "content": "Nice!"}]]},
           {"question_id": "q2_abs", "question_type": "single-session-user", "question": "?",
            "question_date": "2023/05/30 (Tue) 10:00", "answer": "", "answer_session_ids": [],
            "haystack_session_ids": ["s1"], "haystack_dates": ["2023/05/01 (Mon) 09:00"],
            "haystack_sessions": [[{"role": "user", "content": "hi"}]]}]
    (tmp_path / "m.json").write_text(json.dumps(lme))
    [h] = load_longmemeval(tmp_path / "m.json")  # the question with no marked turn is skipped
    assert h.questions[0].evidence == ("s2#0",) and [t.role for t in h.turns] == ["user", "user", "assistant"]
