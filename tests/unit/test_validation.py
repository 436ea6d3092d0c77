"""Bad input raises a specific error from one hierarchy, says what to fix, and stores nothing."""

from __future__ import annotations

import pytest

from agent_memory import Memory, Message
from agent_memory.errors import (
    AgentMemoryError,
    AlreadyExistsError,
    ContentTooLargeError,
    EmptyContentError,
    InvalidInputError,
    InvalidJSONError,
    InvalidTimestampError,
    TemplateError,
    TemplateNotFoundError,
    ThreadNotFoundError,
    UserNotFoundError,
)


def _count(memory: Memory) -> int:
    return len(memory.graph.episodes(user_id="jane"))


def test_unknown_user_and_thread(memory: Memory) -> None:
    with pytest.raises(UserNotFoundError, match="memory.user.add"):
        memory.thread.create(thread_id="t9", user_id="nobody")
    with pytest.raises(ThreadNotFoundError, match="does not exist"):
        memory.thread.add_messages("nope", messages=[Message(role="user", content="hi")])
    with pytest.raises(UserNotFoundError):
        memory.graph.add(user_id="nobody", type="text", data="hello")
    assert _count(memory) == 0


def test_not_found_is_a_key_error_with_a_readable_message(memory: Memory) -> None:
    with pytest.raises(KeyError) as info:
        memory.user.get("ghost")
    assert str(info.value) == "user 'ghost' does not exist; add it with memory.user.add(user_id=...)"
    assert info.value.user_id == "ghost"  # type: ignore[attr-defined]


def test_duplicate_ids(memory: Memory) -> None:
    with pytest.raises(AlreadyExistsError):
        memory.user.add(user_id="jane")
    with pytest.raises(AlreadyExistsError):
        memory.thread.create(thread_id="t1", user_id="jane")
    msg = Message(role="user", content="first")
    memory.thread.add_messages("t1", messages=[msg])
    with pytest.raises(AlreadyExistsError):
        memory.thread.add_messages("t1", messages=[Message(role="user", content="other"), msg])
    assert [m.content for m in memory.thread.get_messages("t1")] == ["first"]  # all or nothing


@pytest.mark.parametrize("stamp", ["yesterday", "2024-03-02", "2024-03-02 10:00", "02/03/2024 10:00:00Z",
                                   "2024-13-02T10:00:00Z"])
def test_timestamps_must_be_rfc3339(memory: Memory, stamp: str) -> None:
    with pytest.raises(InvalidTimestampError, match="RFC 3339|valid date"):
        Message(role="user", content="hi", created_at=stamp)
    with pytest.raises(InvalidTimestampError):
        memory.thread.add_messages("t1", messages=[{"role": "user", "content": "hi", "created_at": stamp}])
    assert _count(memory) == 0


def test_naive_datetime_is_refused() -> None:
    from datetime import datetime

    with pytest.raises(InvalidTimestampError, match="no timezone"):
        Message(role="user", content="hi", created_at=datetime(2024, 3, 2, 10))


def test_offsets_are_normalised_to_utc(memory: Memory) -> None:
    [m] = memory.thread.add_messages("t1", messages=[Message(role="user", content="x",
                                                           created_at="2024-03-02T12:00:00+02:00")])
    assert m.created_at is not None and m.created_at.isoformat() == "2024-03-02T10:00:00+00:00"


def test_empty_and_oversized_content(memory: Memory) -> None:
    with pytest.raises(EmptyContentError, match="messages\\[1\\].content is empty"):
        memory.thread.add_messages("t1", messages=[Message(role="user", content="ok"),
                                                   Message(role="user", content="   ")])
    big = "x" * (memory.config.max_content_chars + 1)
    with pytest.raises(ContentTooLargeError, match="over the limit"):
        memory.graph.add(user_id="jane", type="text", data=big)
    assert _count(memory) == 0


def test_bad_json(memory: Memory) -> None:
    with pytest.raises(InvalidJSONError, match="not valid JSON"):
        memory.graph.add(user_id="jane", type="json", data='{"event_type": "x",')
    with pytest.raises(InvalidJSONError, match="object"):
        memory.graph.add(user_id="jane", type="json", data="[1, 2]")
    with pytest.raises(InvalidInputError, match="type must be"):
        memory.graph.add(user_id="jane", type="xml", data="<a/>")
    assert _count(memory) == 0


def test_wrong_types(memory: Memory) -> None:
    with pytest.raises(InvalidInputError, match="role"):
        Message(role="robot", content="hi")
    with pytest.raises(InvalidInputError, match="list of Message"):
        memory.thread.add_messages("t1", messages="hello")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="must be a string"):
        memory.graph.add(user_id="jane", type="text", data=42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="user_id"):
        memory.user.get("")
    with pytest.raises(InvalidInputError, match="scope"):
        memory.graph.search(user_id="jane", query="x", scope="everything")
    with pytest.raises(InvalidInputError, match="limit"):
        memory.graph.search(user_id="jane", query="x", limit=0)
    assert _count(memory) == 0


@pytest.mark.parametrize("template, why", [
    ("%{facts}", "unknown placeholder"),
    ("%{edges limit=ten}", "limit"),
    ("%{edges colour=red}", "bad argument"),
    ("<A>%{edges limit=3</A>", "unclosed"),
    ("no placeholders at all", "no placeholder"),
    ("", "non-empty"),
])
def test_bad_templates_fail_at_create_time(memory: Memory, template: str, why: str) -> None:
    with pytest.raises(TemplateError, match=why):
        memory.context.create_context_template(template_id="t", template=template)
    with pytest.raises(TemplateNotFoundError):
        memory.context.get_context_template("t")


def test_every_error_shares_one_root(memory: Memory) -> None:
    with pytest.raises(AgentMemoryError):
        memory.thread.get("missing")
    with pytest.raises(AgentMemoryError):
        memory.context.create_context_template(template_id="x", template="%{bogus}")
