"""Convert between LangChain messages and agent-memory messages, and build the placed context.

Shared by the LangChain and LangGraph adapters. The framework-free part of placement lives in
``agent_memory.context.placement``; this module only turns its plain dicts into LangChain classes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from agent_memory.context.placement import (
    RECALL_TOOL_NAME,
    Placement,
    context_tool_pair,
    insertion_index,
    system_with_context,
)
from agent_memory.models import Message, Role

__all__ = [
    "SYNTHETIC_ID_PREFIX",
    "from_memory_message",
    "is_synthetic",
    "place_context",
    "to_memory_messages",
    "tool_pair",
]

log = logging.getLogger(__name__)

SYNTHETIC_ID_PREFIX = "agent_memory_recall:"
"""Message ids of the synthetic pair start with this, so no adapter ever persists them."""

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def _text(message: BaseMessage) -> str:
    return str(message.text)


def is_synthetic(message: BaseMessage) -> bool:
    """True for the context pair an adapter injected (by id), which must never be persisted."""
    return isinstance(message.id, str) and message.id.startswith(SYNTHETIC_ID_PREFIX)


def to_memory_messages(messages: Sequence[BaseMessage], *,
                       tool_name: str = RECALL_TOOL_NAME) -> list[Message]:
    """The messages worth remembering, as agent-memory ``Message`` records.

    Kept: human, AI and system messages with text. Skipped: the synthetic context pair, calls of
    the recall tool and their answers (which are the memory itself), tool messages, and messages
    with no text (e.g. an AI message that only calls tools): the core stores text, not tool traffic.
    ``additional_kwargs["created_at"]`` (RFC 3339), if present, dates the message.
    """
    recall_ids = {c["id"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls
                  if c.get("name") == tool_name and c.get("id")}
    out: list[Message] = []
    for m in messages:
        if is_synthetic(m) or m.type in ("tool", "function"):
            continue
        if isinstance(m, ToolMessage) and m.tool_call_id in recall_ids:
            continue
        role = _ROLES.get(m.type) or (getattr(m, "role", None) if m.type == "chat" else None)
        if role not in ("user", "assistant", "system"):
            log.debug("not remembering a %s message with role %r", m.type, role)
            continue
        text = _text(m)
        if not text.strip():
            continue
        metadata: dict[str, Any] = {"lc_type": m.type}
        if m.id:
            metadata["lc_id"] = m.id
        out.append(Message(role=Role(role), content=text, name=m.name,
                           created_at=m.additional_kwargs.get("created_at"), metadata=metadata))
    return out


def from_memory_message(message: Message) -> BaseMessage:
    """A LangChain message for a stored one (its id is the record's uuid)."""
    role = message.role.value
    extra = {"created_at": message.created_at.isoformat()} if message.created_at else {}
    if role == "user":
        return HumanMessage(message.content, name=message.name, id=message.uuid, additional_kwargs=extra)
    if role == "assistant":
        return AIMessage(message.content, name=message.name, id=message.uuid, additional_kwargs=extra)
    if role == "system":
        return SystemMessage(message.content, name=message.name, id=message.uuid, additional_kwargs=extra)
    return ToolMessage(message.content, tool_call_id=str(message.metadata.get("tool_call_id", "")),
                       id=message.uuid, additional_kwargs=extra)


def tool_pair(context: str, *, query: str = "", tool_name: str = RECALL_TOOL_NAME) -> list[BaseMessage]:
    """The synthetic ``AIMessage`` tool call and the ``ToolMessage`` carrying the block (same id)."""
    call, answer = context_tool_pair(context, query=query, tool_name=tool_name)
    cid = answer["tool_call_id"]
    return [
        AIMessage("", tool_calls=[{"name": tool_name, "args": {"query": query}, "id": cid}],
                  id=f"{SYNTHETIC_ID_PREFIX}{cid}:call"),
        ToolMessage(context, tool_call_id=cid, id=f"{SYNTHETIC_ID_PREFIX}{cid}:result"),
    ]


def place_context(messages: Sequence[BaseMessage], system: SystemMessage | None, context: str, *,
                  placement: Placement, query: str = "",
                  tool_name: str = RECALL_TOOL_NAME) -> tuple[SystemMessage | None, list[BaseMessage]]:
    """The system message and the conversation to send, with ``context`` placed.

    ``"system"``: the block is appended to the system text (a system message is created if
    there is none). ``"tool"``: ``system`` is returned unchanged (the same object, so its text is
    byte-identical every turn) and the synthetic pair goes right after the last human message.
    An empty block changes nothing.
    """
    msgs = list(messages)
    if not context:
        return system, msgs
    if placement == "system":
        base = str(system.text) if system is not None else None
        return SystemMessage(system_with_context(base, context)), msgs
    roles = ["user" if m.type == "human" else m.type for m in msgs]
    i = insertion_index(roles)
    msgs[i:i] = tool_pair(context, query=query, tool_name=tool_name)
    return system, msgs
