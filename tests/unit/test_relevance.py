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


class _Counting(HashEmbedder):
    """Counts the texts it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed_batch(self, texts):  # type: ignore[no-untyped-def]
        self.texts += list(texts)
        return super().embed_batch(texts)


def test_relevance_reuses_the_vectors_the_search_matched() -> None:
    embedder = _Counting()
    with Memory.ephemeral(embedder=embedder, llm=None) as memory:
        memory.user.add(user_id="jane")
        memory.graph.add(user_id="jane", type="text", data="Jane adopted a beagle called Rufus")
        memory.graph.add(user_id="jane", type="text", data="The quarterly report is due on Friday")
        embedder.texts.clear()
        scored = memory.graph.search(user_id="jane", query="Jane's dog Rufus", scope="episodes", relevance=True)
        assert scored[0].episode is not None and "Rufus" in scored[0].episode.content
        assert scored[0].relevance is not None and scored[0].relevance > scored[-1].relevance  # type: ignore[operator]
        # only the query was embedded (and the query without the person it names): no hit text again
        assert embedder.texts and all(set(t.split()) <= {"Jane's", "dog", "Rufus"} for t in embedder.texts)
        assert not any("quarterly" in t for t in embedder.texts)
