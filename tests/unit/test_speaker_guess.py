"""A question naming someone the user talks about, who never speaks in the chat, is ranked by one
BM25 of the question once the speakers are known: no second search on the read's path."""

from __future__ import annotations

from typing import Any

from agent_memory import Memory, Message
from agent_memory.models import Entity


def test_a_named_person_who_never_spoke_costs_no_second_search(memory: Memory) -> None:
    memory.thread.add_messages("t1", messages=[
        Message(role="user", name="Jane", content="My friend Ana moved to Lisbon in May."),
        Message(role="assistant", name="Support", content="Lisbon is lovely in spring."),
    ])
    memory.wait_until_processed("jane")
    core = memory._core
    core.store.save_entity(Entity(user_id="jane", name="Ana", type="Person"))
    calls: list[str] = []
    search = core.store.search_episode_text

    def counted(user_id: str, query: str, limit: int = 20) -> Any:
        calls.append(query)
        return search(user_id, query, limit)

    core.store.search_episode_text = counted  # type: ignore[method-assign]
    core.build_context("jane", "What did Jane say about spring?")  # the speakers are heard
    calls.clear()
    block = core.build_context("jane", "Where did Ana move?").context
    assert "Ana moved to Lisbon" in block
    assert calls == ["Where did Ana move?"]  # the whole question, once
