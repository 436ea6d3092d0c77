"""Convert between LlamaIndex ``ChatMessage`` and agent-memory messages; build the placed context."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock

from agent_memory.context.placement import RECALL_TOOL_NAME, context_tool_pair, insertion_index
from agent_memory.models import Message, Role

__all__ = [
    "from_memory_message",
    "insert_pair",
    "text_of",
    "to_memory_messages",
    "to_openai_dicts",
    "tool_pair",
]

_ROLES = {
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "system",
}


def text_of(message: ChatMessage) -> str:
    """The text of a message (its text blocks joined), ``""`` if it has none."""
    return message.content or ""


def to_memory_messages(messages: Sequence[ChatMessage], *,
                       skip_call_ids: Collection[str] = ()) -> list[Message]:
    """The messages worth remembering: user, assistant and system messages with text.

    Tool results, messages with no text (e.g. an assistant turn that only calls tools) and the
    synthetic context pair (``skip_call_ids``) are not written.
    """
    out: list[Message] = []
    for m in messages:
        role = _ROLES.get(m.role)
        if role is None or m.additional_kwargs.get("tool_call_id") in skip_call_ids:
            continue
        if any(isinstance(b, ToolCallBlock) and b.tool_call_id in skip_call_ids for b in m.blocks):
            continue
        text = text_of(m)
        if not text.strip():
            continue
        out.append(Message(role=Role(role), content=text, created_at=m.additional_kwargs.get("created_at"),
                           metadata={"li_role": m.role.value}))
    return out


def from_memory_message(message: Message) -> ChatMessage:
    """A ``ChatMessage`` for a stored message."""
    role = message.role.value
    extra: dict[str, Any] = {}
    if role == "tool":
        extra["tool_call_id"] = str(message.metadata.get("tool_call_id", ""))
    return ChatMessage(role=role, content=message.content, additional_kwargs=extra)


def tool_pair(context: str, *, query: str = "", tool_name: str = RECALL_TOOL_NAME) -> list[ChatMessage]:
    """The synthetic assistant tool call and the tool message carrying the block (same id).

    The call is carried both as a ``ToolCallBlock`` (LlamaIndex's native form) and as OpenAI
    ``tool_calls`` in ``additional_kwargs`` (which OpenAI-style LLM classes send as is); the tool
    message's ``additional_kwargs`` hold only ``tool_call_id``.
    """
    call, answer = context_tool_pair(context, query=query, tool_name=tool_name)
    cid = answer["tool_call_id"]
    return [
        ChatMessage(role=MessageRole.ASSISTANT,
                    blocks=[ToolCallBlock(tool_call_id=cid, tool_name=tool_name,
                                          tool_kwargs={"query": query})],
                    additional_kwargs={"tool_calls": call["tool_calls"]}),
        ChatMessage(role=MessageRole.TOOL, content=context, additional_kwargs={"tool_call_id": cid}),
    ]


def insert_pair(messages: Sequence[ChatMessage], pair: list[ChatMessage], *,
                at_end: bool = False) -> list[ChatMessage]:
    """``messages`` with ``pair`` after the last user message (or at the end)."""
    out = list(messages)
    i = len(out) if at_end else insertion_index([m.role.value for m in out])
    out[i:i] = pair
    return out


def to_openai_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Chat Completions dicts for ``messages``, as an OpenAI-style LLM class would send them.

    Text blocks become ``content``; ``ToolCallBlock``s become ``tool_calls``; ``tool_calls`` and
    ``tool_call_id`` in ``additional_kwargs`` are sent as they are. Used to check placement order.
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        d: dict[str, Any] = {"role": m.role.value, "content": text_of(m)}
        calls = [{"id": b.tool_call_id, "type": "function",
                  "function": {"name": b.tool_name,
                               "arguments": b.tool_kwargs if isinstance(b.tool_kwargs, str)
                               else json.dumps(b.tool_kwargs)}}
                 for b in m.blocks if isinstance(b, ToolCallBlock)]
        if calls:
            d["tool_calls"] = calls
        for key in ("tool_calls", "tool_call_id"):
            if key in m.additional_kwargs:
                d[key] = m.additional_kwargs[key]
        out.append(d)
    return out
