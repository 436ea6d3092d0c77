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


def test_a_speaker_crowded_out_of_the_ranking_brings_their_turn_on_it_not_their_sign_offs(real_embedder: Any) -> None:
    """Others' questions fill the first ranking (pool 20): the named speaker's turns then come back by the
    question's words among theirs, not by the name alone ("Take care!" matches the name, nothing else)."""
    from agent_memory import MemoryConfig
    from agent_memory.testing.extractors import TripleExtractor

    with Memory(config=MemoryConfig(home=None, candidate_pool=5), embedder=real_embedder,
                extractor=TripleExtractor()) as memory:
        memory.user.add(user_id="u")
        memory.thread.create(thread_id="t1", user_id="u")
        memory.thread.add_messages("t1", messages=[
            Message(role="user", name="Joanna", content=text) for text in
            ("I knitted a scarf for Mary from my writing club.", "Take care!", "See you soon!", "Thanks a lot!")])
        memory.thread.create(thread_id="t2", user_id="u")
        memory.thread.add_messages("t2", messages=[
            Message(role="user", name="Asker", content=f"What did {who} knit for the ladies at the writing club?")
            for who in [f"person {i}" for i in range(40)]])
        core = memory._core
        core.build_context("u", "Joanna knitted a scarf")  # Joanna is heard speaking
        calls: list[tuple[str, tuple[str, ...]]] = []
        search = core.store.search_episode_text

        def counted(user_id: str, query: str, limit: int = 20, *, among: Any = ()) -> Any:
            calls.append((query, tuple(among)))
            return search(user_id, query, limit, among=among)

        core.store.search_episode_text = counted  # type: ignore[method-assign]
        block = core.build_context("u", "What did Joanna knit for one of the ladies at her writing club?").context
        assert "I knitted a scarf for Mary" in block
        assert "Take care!" not in block and "See you soon!" not in block
        assert len(calls) == 2 and calls[1][1] == ("joanna",)  # the second search is among her turns
