"""Where the context block goes in a prompt: the framework-free half of every adapter's placement.

Two placements (see DESIGN.md, "Placement"):

- ``"system"``: the block joins the system message. Simple; the system prompt changes every turn.
- ``"tool"``: the system prompt stays byte-identical (cacheable). After the history and the latest
  user message come a synthetic assistant tool call and the tool message that answers it, carrying
  the block. The pair is rebuilt each turn and never written back into history.

Everything here works on plain OpenAI Chat Completions dicts; each adapter converts them to its
framework's message classes. ``check_openai_order`` enforces the two ordering rules that
OpenAI-style APIs apply to tool messages, so tests can prove a sequence would be accepted::

    from agent_memory.context.placement import context_tool_pair, insert_context_pair, check_openai_order

    msgs = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Hi"}]
    call, answer = context_tool_pair("<FACTS>...</FACTS>", query="Hi")
    check_openai_order(insert_context_pair(msgs, (call, answer)))
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..errors import ConfigError, InvalidInputError, SequenceOrderError

__all__ = [
    "PLACEMENTS",
    "RECALL_TOOL_NAME",
    "Placement",
    "SequenceOrderError",
    "check_openai_order",
    "check_placement",
    "context_tool_pair",
    "insert_context_pair",
    "insertion_index",
    "new_call_id",
    "recall_tool_spec",
    "system_with_context",
]

Placement = Literal["system", "tool"]
PLACEMENTS: tuple[str, ...] = ("system", "tool")

RECALL_TOOL_NAME = "recall_memory"
"""The name of the synthetic tool call; declare a tool of this name so the ``tools=`` list stays static."""

RECALL_TOOL_DESCRIPTION = "Recall what is known about the user: dated facts, entities and past conversations."


def check_placement(placement: Any) -> Placement:
    """Return ``placement`` if it is ``"system"`` or ``"tool"``; raise ConfigError otherwise."""
    if placement not in PLACEMENTS:
        raise ConfigError(f"placement must be 'system' or 'tool', got {placement!r}")
    return placement  # type: ignore[no-any-return]


def new_call_id() -> str:
    """A fresh tool-call id in OpenAI's style: ``call_`` and 24 hex digits."""
    return f"call_{uuid.uuid4().hex[:24]}"


def recall_tool_spec(name: str = RECALL_TOOL_NAME,
                     description: str = RECALL_TOOL_DESCRIPTION) -> dict[str, Any]:
    """The OpenAI function-tool declaration matching the synthetic call (``tools=[...]``)."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "What to recall."}},
                "required": [],
            },
        },
    }


def context_tool_pair(context: str, *, query: str = "", tool_name: str = RECALL_TOOL_NAME,
                      call_id: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The synthetic assistant tool call and the tool message carrying ``context``, as OpenAI dicts.

    The assistant message has empty content and one function call whose arguments are
    ``{"query": query}``; the tool message answers it with the same id and has no ``name``
    (OpenAI's tool message has only ``role``, ``content`` and ``tool_call_id``).
    """
    if not isinstance(context, str):
        raise InvalidInputError(f"context must be a string, got {type(context).__name__}")
    cid = call_id or new_call_id()
    call = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{
            "id": cid,
            "type": "function",
            "function": {"name": tool_name, "arguments": json.dumps({"query": query}, ensure_ascii=False)},
        }],
    }
    answer = {"role": "tool", "tool_call_id": cid, "content": context}
    return call, answer


def insertion_index(roles: Sequence[str]) -> int:
    """Where the pair goes: right after the last user message (the end if there is none).

    Inserting after the *last user message*, rather than at the very end, keeps any real tool
    calls the model made later in the same turn answered in order, and keeps the prefix of the
    prompt stable across the model calls of one turn.
    """
    for i in range(len(roles) - 1, -1, -1):
        if roles[i] == "user":
            return i + 1
    return len(roles)


def insert_context_pair(messages: Sequence[Mapping[str, Any]],
                        pair: tuple[Mapping[str, Any], Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """A new list: ``messages`` with ``pair`` inserted after the last user message."""
    out = list(messages)
    i = insertion_index([str(m.get("role")) for m in out])
    out[i:i] = list(pair)
    return out


def system_with_context(system_prompt: str | None, context: str, *, separator: str = "\n\n") -> str:
    """The system text for ``placement="system"``: the static prompt, then the block."""
    if not context:
        return system_prompt or ""
    if not system_prompt:
        return context
    return f"{system_prompt}{separator}{context}"


def _call_ids(message: Mapping[str, Any]) -> list[str]:
    calls = message.get("tool_calls") or []
    ids = []
    for call in calls:
        cid = call.get("id") if isinstance(call, Mapping) else None
        if not isinstance(cid, str) or not cid:
            raise SequenceOrderError("every tool call of an assistant message needs a non-empty string id")
        ids.append(cid)
    if len(set(ids)) != len(ids):
        raise SequenceOrderError(f"duplicate tool call ids in one assistant message: {ids}")
    return ids


def check_openai_order(messages: Sequence[Mapping[str, Any]]) -> None:
    """Raise SequenceOrderError unless ``messages`` satisfy OpenAI's rules for tool messages.

    Rule 1: a ``tool`` message must answer an id in the ``tool_calls`` of the closest preceding
    assistant message (only other tool messages may sit between them).
    Rule 2: every id of an assistant message's ``tool_calls`` is answered before any other role.
    Also: roles are the four known ones, and a tool message carries a ``tool_call_id``.
    """
    pending: list[str] = []       # ids of the last assistant message not yet answered
    answerable: set[str] = set()  # ids the tool messages at this point may answer
    for pos, message in enumerate(messages):
        role = message.get("role")
        if role not in ("system", "user", "assistant", "tool", "developer"):
            raise SequenceOrderError(f"message {pos} has unknown role {role!r}")
        if role == "tool":
            cid = message.get("tool_call_id")
            if not isinstance(cid, str) or not cid:
                raise SequenceOrderError(f"message {pos}: a tool message needs a tool_call_id")
            if cid not in answerable:
                raise SequenceOrderError(
                    f"message {pos}: messages with role 'tool' must be a response to a preceding "
                    f"message with 'tool_calls' (no pending call has id {cid!r})")
            if cid not in pending:
                raise SequenceOrderError(f"message {pos}: tool call {cid!r} is answered twice")
            pending.remove(cid)
            continue
        if pending:
            raise SequenceOrderError(
                f"message {pos} ({role}): an assistant message with 'tool_calls' must be followed by tool "
                f"messages responding to each 'tool_call_id' (unanswered: {pending})")
        answerable = set()
        if role == "assistant":
            pending = _call_ids(message)
            answerable = set(pending)
    if pending:
        raise SequenceOrderError(
            f"the sequence ends with unanswered tool calls {pending}: an assistant message with "
            "'tool_calls' must be followed by tool messages responding to each 'tool_call_id'")
