"""Retriever scores mean something: a calibrated relevance in [0, 1], scopes merged on it, and no ignored kwargs."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from agent_memory import Memory, Message
from langchain_agent_memory import AgentMemoryRetriever


@pytest.fixture
def chatted(mem: Memory) -> Memory:
    mem.thread.create(thread_id="t1", user_id="jane")
    mem.thread.add_messages("t1", messages=[
        Message(role="user", content="Jane works at Acme."),
        Message(role="assistant", content="Lovely choice."),
        Message(role="user", content="I had pasta for lunch today."),
        Message(role="assistant", content="Sounds tasty!"),
        Message(role="user", content="My brother plays football on weekends."),
        Message(role="assistant", content="Great."),
    ])
    return mem


def kinds(docs: list[Document]) -> list[str]:
    return [d.metadata["kind"] for d in docs]


def test_facts_are_not_always_beaten_by_episodes(chatted: Memory) -> None:
    docs = AgentMemoryRetriever(memory=chatted, user_id="jane", k=4).invoke("Where does Jane work?")
    assert "fact" in kinds(docs)
    fact = next(d for d in docs if d.metadata["kind"] == "fact")
    assert "Acme" in fact.page_content
    lovely = [d for d in docs if d.page_content == "Lovely choice."]
    assert not lovely or docs.index(lovely[0]) > docs.index(fact)


def test_scores_are_calibrated_relevance(chatted: Memory) -> None:
    retriever = AgentMemoryRetriever(memory=chatted, user_id="jane", k=6)
    good = retriever.invoke("Where does Jane work?")
    nonsense = retriever.invoke("quantum zebra carburetor")
    for d in [*good, *nonsense]:
        assert 0.0 <= d.metadata["score"] <= 1.0 and "fused_score" in d.metadata
    assert good[0].metadata["score"] > 0.5
    assert max(d.metadata["score"] for d in nonsense) < 0.3  # nobody mistakes it for a match
    assert AgentMemoryRetriever(memory=chatted, user_id="jane", score_threshold=0.3).invoke(
        "quantum zebra carburetor") == []


def test_search_kwargs_are_honoured_or_refused(chatted: Memory) -> None:
    retriever = AgentMemoryRetriever(memory=chatted, user_id="jane",
                                     search_kwargs={"k": 2, "filter": {"valid_only": True}, "scopes": ("edges",)})
    assert retriever.k == 2 and retriever.filters == {"valid_only": True} and retriever.scopes == ("edges",)
    docs = retriever.invoke("Acme")
    assert len(docs) <= 2 and set(kinds(docs)) == {"fact"}
    with pytest.raises(ValueError, match="fetch_k"):
        AgentMemoryRetriever(memory=chatted, user_id="jane", search_kwargs={"fetch_k": 20})
    with pytest.raises(ValueError, match="both"):
        AgentMemoryRetriever(memory=chatted, user_id="jane", k=3, search_kwargs={"k": 2})
