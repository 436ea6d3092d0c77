"""``graph.search(relevance=True)``: a score in [0, 1] that means the same for every query (cosine of query and hit)."""

from __future__ import annotations

from agent_memory import Memory
from agent_memory.retrieval.relevance import relevance
from agent_memory.testing.fakes import HashEmbedder


def test_relevance_is_a_clipped_cosine() -> None:
    scores = relevance(HashEmbedder(), "jane lives in denver", ["jane lives in denver", "x", ""])
    assert abs(scores[0] - 1.0) < 1e-5
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert relevance(HashEmbedder(), "q", []) == []


def test_search_sets_relevance_only_when_asked(memory: Memory) -> None:
    memory.graph.add(user_id="jane", type="text", data="Jane lives in Denver")
    plain = memory.graph.search(user_id="jane", query="Jane lives in Denver", scope="episodes")
    assert plain and all(r.relevance is None for r in plain)  # the default costs nothing extra
    scored = memory.graph.search(user_id="jane", query="Jane lives in Denver", scope="episodes", relevance=True)
    assert [r.episode.uuid for r in scored] == [r.episode.uuid for r in plain]  # same ranking
    assert scored[0].relevance is not None and scored[0].relevance > 0.99
