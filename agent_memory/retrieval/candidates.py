"""What one read ranks: its candidates of every kind, and the searches started before its embedding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..models import Entity, Episode, Fact, Observation
from ..storage.base import EpisodeHead

__all__ = ["Candidates", "EarlySearches"]


@dataclass
class Candidates:
    """Ranked records of every kind, best first, with their fused scores."""

    facts: list[tuple[Fact, float]] = field(default_factory=list)
    entities: list[tuple[Entity, float]] = field(default_factory=list)
    episodes: list[tuple[Episode, float]] = field(default_factory=list)
    observations: list[tuple[Observation, float]] = field(default_factory=list)
    # the order candidate episodes were added (uuid -> a number that grows with it): turns that
    # share a timestamp are shown in conversation order
    episode_order: dict[str, int] = field(default_factory=dict)
    # cosine of the query and the stored vector of each record the vector index returned: uuid -> cosine
    similarity: dict[str, float] = field(default_factory=dict)


@dataclass
class EarlySearches:
    """Episode searches that need no vector, started on a side thread before the query is embedded;
    each a call that waits for its result (None: not started). ``bm25``: the first ranking's BM25, of
    the question without the people it names when ``by_rest``, else of the whole question; ``typed``:
    the turns naming things of the kind it asks for; ``dated``: for a question dated by another event,
    the turn that dates it (``Retriever._dated_turn``), and ``side`` the side it asks about. The BM25
    hits come with their heads."""

    bm25: Callable[[], tuple[list[tuple[str, float]], dict[str, EpisodeHead]]] | None = None
    by_rest: bool = False
    people: tuple[str, ...] = ()  # the names taken out of the question when ``by_rest``
    typed: Callable[[], dict[str, float]] | None = None
    dated: Callable[[], tuple[str | None, dict[str, EpisodeHead]]] | None = None
    side: str = "before"
