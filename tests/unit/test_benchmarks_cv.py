"""Leave-one-conversation-out: a fold picks its setting without looking at the conversation it scores."""

from __future__ import annotations

import pytest

from benchmarks.cv import cross_validate, settings_grid
from benchmarks.metrics import Scores


def _scores(value: float) -> Scores:
    s = Scores()
    s.add("single-hop", {"coverage@1000": value})
    return s


def test_each_fold_chooses_on_the_other_conversations_only() -> None:
    hids = ["a", "b", "c"]
    # setting 1 wins on a and b by far, loses on c; setting 0 is steady
    table = {0: {"a": _scores(0.5), "b": _scores(0.5), "c": _scores(0.5)},
             1: {"a": _scores(0.9), "b": _scores(0.9), "c": _scores(0.2)}}
    out = cross_validate(table, [{"k": 0.0}, {"k": 1.0}], hids, "coverage@1000", log=lambda _: None)
    chosen = {f["held_out"]: f["chosen"] for f in out["folds"]}
    assert chosen == {"a": "k=1", "b": "k=1", "c": "k=1"}
    assert out["worst"] == pytest.approx(0.2)  # c pays for a setting tuned on a and b
    assert out["mean"] == pytest.approx((0.9 + 0.9 + 0.2) / 3)


def test_a_sweep_is_every_combination_or_one_knob_at_a_time() -> None:
    assert len(settings_grid(["speaker_boost=0,0.7", "date_boost=0,0.3,0.6"])) == 6
    assert settings_grid(["speaker_boost=0,0.7"], one_at_a_time=True) == [{}, {"speaker_boost": 0.0},
                                                                          {"speaker_boost": 0.7}]
    with pytest.raises(SystemExit, match="unknown knob"):
        settings_grid(["no_such_knob=1"])


def test_a_sweep_reads_with_the_vectors_a_memory_computes(real_embedder) -> None:  # type: ignore[no-untyped-def]
    """A question's vector is the one its read's batch gives, whatever embedded the question before."""
    import numpy as np

    from benchmarks.cached_reads import _BatchKeyed

    question, rest = "What did Melanie paint?", "What did paint?"
    read = real_embedder.embed_batch([question, rest])  # what a memory computes for this read
    keyed = _BatchKeyed(real_embedder)
    keyed.embed_batch([question])  # the question embedded alone first (a baseline, another setting)
    np.testing.assert_array_equal(keyed.embed_batch([question, rest]), read)
    np.testing.assert_array_equal(keyed.embed_batch([question]), real_embedder.embed_batch([question]))


def test_the_sentence_experiment_splits_only_turns_that_say_several_things() -> None:
    from benchmarks.sentences import sentences

    turn = "Took a short trip to Rome last week. The food was great there! I also started a pottery class."
    assert sentences(turn) == ["Took a short trip to Rome last week.", "The food was great there!",
                               "I also started a pottery class."]
    assert sentences("I went to a support group yesterday and it was powerful.") == []
    assert sentences("Wow! That is so cool. Thanks!") == []  # one sentence worth a vector is not several
