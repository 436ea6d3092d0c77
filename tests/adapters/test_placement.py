"""The framework-free placement helper: the synthetic pair and the OpenAI order checker."""

from __future__ import annotations

import json
import re

import pytest

from agent_memory.context import placement as pl
from agent_memory.context.placement import (
    SequenceOrderError,
    check_openai_order,
    check_placement,
    context_tool_pair,
    insert_context_pair,
    insertion_index,
    new_call_id,
    recall_tool_spec,
    system_with_context,
)
from agent_memory.errors import ConfigError, InvalidInputError

SYSTEM = {"role": "system", "content": "You are helpful."}


def test_all_is_pinned() -> None:
    assert sorted(pl.__all__) == sorted([
        "PLACEMENTS", "RECALL_TOOL_NAME", "Placement", "SequenceOrderError", "check_openai_order",
        "check_placement", "context_tool_pair", "insert_context_pair", "insertion_index", "new_call_id",
        "recall_tool_spec", "system_with_context"])


def test_call_ids_are_fresh_and_openai_shaped() -> None:
    ids = {new_call_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"call_[0-9a-f]{24}", i) for i in ids)


def test_pair_shape() -> None:
    call, answer = context_tool_pair("<FACTS>x</FACTS>", query="where do I live?")
    assert call["role"] == "assistant" and call["content"] == ""
    (tc,) = call["tool_calls"]
    assert tc["type"] == "function" and tc["function"]["name"] == "recall_memory"
    assert json.loads(tc["function"]["arguments"]) == {"query": "where do I live?"}
    assert answer == {"role": "tool", "tool_call_id": tc["id"], "content": "<FACTS>x</FACTS>"}
    assert "name" not in answer  # OpenAI's tool message has only role, content, tool_call_id
    again, _ = context_tool_pair("x")
    assert again["tool_calls"][0]["id"] != tc["id"]


def test_pair_rejects_non_text() -> None:
    with pytest.raises(InvalidInputError):
        context_tool_pair(None)  # type: ignore[arg-type]


def test_recall_tool_spec_matches_the_call() -> None:
    spec = recall_tool_spec()
    call, _ = context_tool_pair("x")
    assert spec["function"]["name"] == call["tool_calls"][0]["function"]["name"]
    assert spec["function"]["parameters"]["type"] == "object"


@pytest.mark.parametrize(("roles", "expected"), [
    ([], 0), (["system"], 1), (["system", "user"], 2), (["system", "user", "assistant"], 2),
    (["user", "assistant", "user", "assistant", "tool"], 3),
])
def test_insertion_index_is_after_the_last_user_message(roles: list[str], expected: int) -> None:
    assert insertion_index(roles) == expected


def test_inserted_sequence_is_valid_and_system_untouched() -> None:
    history = [SYSTEM, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
               {"role": "user", "content": "where do I live?"}]
    out = insert_context_pair(history, context_tool_pair("ctx"))
    assert [m["role"] for m in out] == ["system", "user", "assistant", "user", "assistant", "tool"]
    assert out[0] is SYSTEM and history[-1]["role"] == "user" and len(history) == 4
    check_openai_order(out)


def test_pair_before_real_tool_calls_of_the_same_turn_stays_valid() -> None:
    turn = [SYSTEM, {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": "",
             "tool_calls": [{"id": "call_w", "type": "function",
                             "function": {"name": "weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_w", "content": "sunny"}]
    out = insert_context_pair(turn, context_tool_pair("ctx"))
    assert [m["role"] for m in out] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    check_openai_order(out)


@pytest.mark.parametrize(("messages", "pattern"), [
    ([SYSTEM, {"role": "tool", "tool_call_id": "call_1", "content": "x"}], "must be a response"),
    ([{"role": "user", "content": "q"},
      {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1"}]},
      {"role": "user", "content": "again"}], "must be followed by tool messages"),
    ([{"role": "assistant", "content": "", "tool_calls": [{"id": "call_1"}, {"id": "call_2"}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "x"}], "unanswered"),
    ([{"role": "assistant", "content": "", "tool_calls": [{"id": "call_1"}]},
      {"role": "tool", "tool_call_id": "call_2", "content": "x"}], "must be a response"),
    ([{"role": "assistant", "content": "", "tool_calls": [{"id": "call_1"}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "x"},
      {"role": "tool", "tool_call_id": "call_1", "content": "x"}], "answered twice"),
    ([{"role": "assistant", "content": "", "tool_calls": [{"id": "call_1"}]},
      {"role": "tool", "content": "x"}], "needs a tool_call_id"),
    ([{"role": "assistant", "content": "", "tool_calls": [{"id": "call_1"}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "x"},
      {"role": "user", "content": "q"},
      {"role": "tool", "tool_call_id": "call_1", "content": "x"}], "must be a response"),
    ([{"role": "wizard", "content": "x"}], "unknown role"),
])
def test_order_checker_rejects(messages: list[dict], pattern: str) -> None:
    with pytest.raises(SequenceOrderError, match=pattern):
        check_openai_order(messages)


def test_order_checker_accepts_parallel_calls_answered_in_any_order() -> None:
    check_openai_order([
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "a"}, {"id": "b"}]},
        {"role": "tool", "tool_call_id": "b", "content": "x"},
        {"role": "tool", "tool_call_id": "a", "content": "y"},
        {"role": "assistant", "content": "done"},
    ])


def test_system_with_context() -> None:
    assert system_with_context("You are helpful.", "<FACTS/>") == "You are helpful.\n\n<FACTS/>"
    assert system_with_context(None, "<FACTS/>") == "<FACTS/>"
    assert system_with_context("You are helpful.", "") == "You are helpful."


def test_check_placement() -> None:
    assert check_placement("tool") == "tool" and check_placement("system") == "system"
    with pytest.raises(ConfigError):
        check_placement("user")
