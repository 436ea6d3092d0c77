"""The offline extractor survives paraphrase: everyday ways to state a change, and non-statements."""

from __future__ import annotations

from typing import Any

import pytest

from agent_memory.extraction import OfflineExtractor
from benchmarks.paraphrases import CASES, run_suite

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def suite() -> tuple[int, int, list[Any]]:
    return run_suite(OfflineExtractor())


def test_paraphrase_suite_passes_at_least_90_percent(suite: tuple[int, int, list[Any]]) -> None:
    passed, total, failures = suite
    assert total == len(CASES) >= 50
    assert sum(1 for c in CASES if not c.want) >= 15  # the negative cases: nothing may be asserted
    report = "\n".join(f"{c.text!r}: {p} (got {g})" for c, p, g in failures)
    assert passed / total >= 0.9, report


def test_every_phrasing_of_the_move_to_denver_gives_a_current_residence(suite: tuple[int, int, list[Any]]) -> None:
    moves = [c.text for c in CASES if ("LIVES_IN", "Denver", False) in c.want]
    assert len(moves) >= 10
    failed = {c.text for c, _p, _g in suite[2]}
    assert [t for t in moves if t in failed] == []
