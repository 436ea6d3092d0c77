"""A question asking for a kind of thing ("which cities") reads the turns naming such things once a
minute, not once per question; a delete forgets them at once."""

from __future__ import annotations

from typing import Any

from agent_memory import Memory, Message
from agent_memory.models import Entity


def _setup(memory: Memory) -> Any:
    memory.thread.create(thread_id="t2", user_id="jane")
    memory.thread.add_messages("t1", messages=[Message(role="user", content="We flew to Lisbon in May.")])
    memory.thread.add_messages("t2", messages=[Message(role="user", content="Lisbon again next spring!")])
    memory.wait_until_processed("jane")
    core = memory._core
    core.store.save_entity(Entity(user_id="jane", name="Lisbon", type="Place"))
    return core


def test_the_turns_naming_a_kind_are_searched_once_per_user_and_kind(memory: Memory) -> None:
    core = _setup(memory)
    calls: list[str] = []
    search = core.store.search_text

    def counted(user_id: str, kind: str, query: str, limit: int = 20) -> list[tuple[str, float]]:
        calls.append(query)
        return search(user_id, kind, query, limit)

    core.store.search_text = counted  # type: ignore[method-assign]
    first = core.build_context("jane", "Which cities did we visit?").context
    named = [q for q in calls if q == "Lisbon"]
    second = core.build_context("jane", "What cities are on the list?").context
    assert "Lisbon in May" in first and "Lisbon in May" in second
    assert named == ["Lisbon"] and [q for q in calls if q == "Lisbon"] == named  # the second read reused it


def test_a_deleted_thread_leaves_nothing_in_what_a_kind_question_reads(memory: Memory) -> None:
    core = _setup(memory)
    before = core.retriever._type_hits("jane", {"Place"}, 40)
    gone = {e.uuid for e in memory._core.store.list_episodes("jane", thread_id="t1")}
    assert gone & before.keys()
    memory.thread.delete("t1")
    after = core.retriever._type_hits("jane", {"Place"}, 40)
    assert after and not gone & after.keys()
    assert "Lisbon in May" not in core.build_context("jane", "Which cities did we visit?").context
