"""A question asking for a kind of thing ("which cities") reads the turns mentioning such things once
a minute, not once per question; a delete forgets them at once."""

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
    lisbon = Entity(user_id="jane", name="Lisbon", type="Place")
    core.store.save_entity(lisbon)
    core.store.add_mentions("jane", [(lisbon.uuid, e.uuid) for e in core.store.list_episodes("jane")])
    return core


def test_the_turns_naming_a_kind_are_read_once_per_user_and_kind(memory: Memory) -> None:
    core = _setup(memory)
    calls: list[list[str]] = []
    read = core.store.mentions_of_types

    def counted(user_id: str, types: list[str]) -> list[tuple[str, str]]:
        calls.append(list(types))
        return read(user_id, types)

    core.store.mentions_of_types = counted  # type: ignore[method-assign]
    first = core.build_context("jane", "Which cities did we visit?").context
    assert calls == [["Location", "Place"]]
    second = core.build_context("jane", "What cities are on the list?").context
    assert "Lisbon in May" in first and "Lisbon in May" in second
    assert len(calls) == 1  # the second read reused it


def test_a_deleted_thread_leaves_nothing_in_what_a_kind_question_reads(memory: Memory) -> None:
    core = _setup(memory)
    before = core.retriever._type_hits("jane", {"Place"}, 40)
    gone = {e.uuid for e in memory._core.store.list_episodes("jane", thread_id="t1")}
    assert gone & before.keys()
    memory.thread.delete("t1")
    after = core.retriever._type_hits("jane", {"Place"}, 40)
    assert after and not gone & after.keys()
    assert "Lisbon in May" not in core.build_context("jane", "Which cities did we visit?").context


def test_episode_heads_are_read_once_a_minute_and_a_delete_drops_them(memory: Memory) -> None:
    core = _setup(memory)
    asked: list[str] = []
    heads = core.store.episode_heads

    def counted(user_id: str, uuids: Any) -> Any:
        asked.extend(uuids)
        return heads(user_id, uuids)

    core.store.episode_heads = counted  # type: ignore[method-assign]
    first = core.build_context("jane", "When did we fly to Lisbon?").context
    read = list(asked)
    assert read and core.build_context("jane", "When did we fly to Lisbon?").context == first
    assert asked == read  # the second read took every head from the memo
    memory.thread.delete("t1")
    after = core.build_context("jane", "When did we fly to Lisbon?").context
    assert "Lisbon in May" not in after and "Lisbon again" in after
    assert len(asked) > len(read)  # read again after the delete


def test_a_delete_leaves_no_rendered_line_of_the_deleted_turns_in_memory(memory: Memory) -> None:
    from agent_memory.context import lines as render

    core = _setup(memory)
    assert "Lisbon in May" in core.build_context("jane", "When did we fly to Lisbon?").context
    assert any("Lisbon in May" in line for line in _kept_lines(render))
    memory.thread.delete("t1")
    assert not any("Lisbon in May" in line for line in _kept_lines(render))


def _kept_lines(render: Any) -> list[str]:
    """Every text the renderer keeps between calls (its two line caches)."""
    return [str(key) for kept in (render._bodies, render._counts) for key in kept._items]


def test_a_delete_in_another_process_leaves_no_rendered_line_after_a_minute(memory: Memory, monkeypatch: Any) -> None:
    from agent_memory.context import lines as render

    core = _setup(memory)
    now = [1000.0]
    monkeypatch.setattr(render, "_clock", lambda: now[0])
    render.forget_lines()
    assert "Lisbon in May" in core.build_context("jane", "When did we fly to Lisbon?").context
    core.store.delete_thread("t1")  # as another process sharing the database would: this one is not told
    now[0] += render.LINES_TTL - 1
    core.build_context("jane", "What is on the list for spring?")
    assert any("Lisbon in May" in line for line in _kept_lines(render))  # kept for up to a minute
    now[0] += 2
    core.build_context("jane", "What is on the list for spring?")
    assert not any("Lisbon in May" in line for line in _kept_lines(render))
