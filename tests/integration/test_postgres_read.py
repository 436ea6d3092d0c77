"""A context read on PostgreSQL, where some reads run beside the query's embedding (round trips), gives
the block the same reads give one after the other (as an in-process store runs them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_memory import Memory, MemoryConfig, Message

pytestmark = pytest.mark.slow


@pytest.fixture
def memory(postgres_url: str, tmp_path: Path, real_embedder: Any, real_extractor: Any) -> Iterator[Memory]:
    """A memory on PostgreSQL with the real embedder and extractor."""
    with Memory(config=MemoryConfig(home=tmp_path / "home", database_url=postgres_url),
                embedder=real_embedder, extractor=real_extractor) as mem:
        yield mem


def test_named_entities_read_beside_the_embedding_give_the_same_block(
        memory: Memory, monkeypatch: pytest.MonkeyPatch) -> None:
    memory.user.add(user_id="jane", first_name="Jane", last_name="Smith")
    memory.thread.create(thread_id="t1", user_id="jane")
    memory.thread.add_messages("t1", messages=[
        Message(role="user", name="Jane Smith", content=text, created_at="2024-03-01T09:00:00Z")
        for text in ("My favorite author is Octavia Butler.", "I work at Acme Corp as a designer.",
                     "My sister Maya lives in Lisbon.")])
    core = memory._core
    core.build_context("jane", "What do I do for work?")  # the turns ranked: their speakers are known now
    assert core.retriever.memo.speakers("jane")
    question = "What does Jane think of Octavia Butler, and where does Maya live?"

    def read() -> tuple[str, list[tuple[str, float]]]:
        hits = memory.graph.search(user_id="jane", query=question, scope="edges", limit=10)
        return core.build_context("jane", question).context, [(h.fact.uuid, h.score) for h in hits if h.fact]

    beside = read()
    monkeypatch.setattr(core.store, "round_trips", False)  # every read in turn, on the calling thread
    in_turn = read()
    # the same block, and the same facts in the same order with the same scores (the named entities'
    # facts rank higher: their graph neighbourhood counts; scores decay with the clock: approx)
    assert beside[0] == in_turn[0]
    assert [u for u, _ in beside[1]] == [u for u, _ in in_turn[1]]
    assert [s for _, s in beside[1]] == pytest.approx([s for _, s in in_turn[1]], rel=1e-6)
    assert "Octavia Butler" in beside[0] and "Lisbon" in beside[0]


def test_the_turn_an_event_is_dated_by_read_beside_the_embedding_gives_the_same_block(
        memory: Memory, monkeypatch: pytest.MonkeyPatch) -> None:
    told = [("2024-03-01", "I bought a new slow cooker for the kitchen, I love it"),
            ("2024-04-01", "I finally got the Air Fryer today!"),
            ("2024-05-01", "I bought a new blender for the kitchen, I love it")]
    for side in ("after", "before"):  # a user each: one asker's earlier question would date the event
        memory.user.add(user_id=side)
        asked = (*told, ("2024-06-01", f"What kitchen gadget did I buy {side} getting the Air Fryer?"))
        for n, (day, text) in enumerate(asked):
            memory.thread.create(thread_id=f"{side}-{n}", user_id=side)
            memory.thread.add_messages(f"{side}-{n}", messages=[
                Message(role="user", name="Jane Smith", content=text, created_at=f"{day}T09:00:00Z")])

    def first_bought() -> list[str]:
        chosen = [memory.thread.get_user_context(f"{side}-3", token_budget=400).episodes
                  for side in ("after", "before")]
        return [next(e.content for e in episodes if "bought" in e.content) for episodes in chosen]

    beside = first_bought()
    monkeypatch.setattr(memory._core.store, "round_trips", False)  # every read in turn, on the calling thread
    assert first_bought() == beside
    # the question's own thread never dates the Air Fryer: the purchase on the side it asks about comes first
    assert "blender" in beside[0] and "slow cooker" in beside[1]
