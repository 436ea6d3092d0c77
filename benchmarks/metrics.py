"""The metric (pure): evidence recall@k of a ranking, and evidence coverage of a token budget.

Every retrieved item maps to the set of turns it *carries through provenance* (an episode: its
own turn; a fact: the turns of its source episodes; a baseline item: its turn). Nothing is
matched by text after the fact.

- recall@k: the share of a question's evidence turns carried by the first k items of a ranking.
- coverage@B: the share of evidence turns carried by the items inside a block of at most B tokens.
Both are averaged over questions (each question weighs the same).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TypeVar

__all__ = [
    "BUDGETS",
    "KS",
    "Scores",
    "coverage",
    "fill_budget",
    "percentile",
    "recall_at_k",
    "rrf_fuse",
]

KS = (5, 10, 20)
BUDGETS = (500, 1000, 2000, 4000)

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


def _turns(item: str | Iterable[str] | None) -> set[str]:
    if item is None:
        return set()
    if isinstance(item, str):
        return {item}
    return set(item)


def recall_at_k(ranked: Sequence[str | Iterable[str] | None], evidence: Iterable[str], k: int) -> float:
    """Share of ``evidence`` carried by the first ``k`` items; an item is a turn id, a set of them, or None."""
    wanted = set(evidence)
    if not wanted:
        raise ValueError("a question without evidence cannot be scored")
    found: set[str] = set()
    for item in ranked[:k]:
        found |= _turns(item)
    return len(found & wanted) / len(wanted)


def coverage(covered: Iterable[str], evidence: Iterable[str]) -> float:
    """Share of ``evidence`` turns among ``covered``."""
    wanted = set(evidence)
    if not wanted:
        raise ValueError("a question without evidence cannot be scored")
    return len(set(covered) & wanted) / len(wanted)


def fill_budget(items: Sequence[T], cost: Callable[[T], int], budget: int, overhead: int = 0, *,
                group: Callable[[T], Hashable] | None = None, group_cost: Callable[[T], int] | None = None) -> list[T]:
    """Items in rank order while they fit in ``budget`` tokens; one that does not fit is skipped.

    The same greedy rule the context renderer applies: a shorter item further down may still fit.
    ``cost`` is an item's tokens including its line break; ``overhead`` what the block spends
    before any item. With ``group``, the first item of each group also pays ``group_cost`` (the
    renderer's date line over the episodes of one day).
    """
    used, out = overhead, []
    groups: set[Hashable] = set()
    for item in items:
        c = cost(item)
        g = group(item) if group is not None else None
        if group is not None and g not in groups and group_cost is not None:
            c += group_cost(item)
        if used + c > budget:
            continue
        used += c
        if group is not None:
            groups.add(g)
        out.append(item)
    return out


def rrf_fuse(rankings: Sequence[Sequence[K]], *, k: int = 60) -> list[K]:
    """Reciprocal rank fusion of several rankings (1 / (k + rank), rank from 1), best first.

    Ties keep the order of first appearance (first ranking first).
    """
    scores: dict[K, float] = {}
    first: dict[K, int] = {}
    pos = 0
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
            if key not in first:
                first[key] = pos
                pos += 1
    return sorted(scores, key=lambda key: (-scores[key], first[key]))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; nan for no values."""
    if not values:
        return math.nan
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


class Scores:
    """Per-question metric values of one method, averaged overall and by category."""

    def __init__(self) -> None:
        self._rows: list[tuple[str, dict[str, float]]] = []

    def add(self, category: str, values: dict[str, float]) -> None:
        self._rows.append((category, dict(values)))

    def __len__(self) -> int:
        return len(self._rows)

    @staticmethod
    def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
        sums: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        for row in rows:
            for key, value in row.items():
                sums[key] += value
                counts[key] += 1
        return {key: sums[key] / counts[key] for key in sums}

    def overall(self, categories: Iterable[str] | None = None) -> dict[str, float]:
        """Means over questions (of the given categories only, if given), with ``n``."""
        keep = None if categories is None else set(categories)
        rows = [v for c, v in self._rows if keep is None or c in keep]
        return {**self._mean(rows), "n": len(rows)}

    def by_category(self) -> dict[str, dict[str, float]]:
        groups: dict[str, list[dict[str, float]]] = defaultdict(list)
        for c, v in self._rows:
            groups[c].append(v)
        return {c: {**self._mean(rows), "n": len(rows)} for c, rows in sorted(groups.items())}
