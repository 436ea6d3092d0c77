"""Deterministic chat models for the adapter tests: they answer from the context block they see.

``answer_from`` finds the block (in a tool message or a system message), and replies with its
current facts, so a test can assert that what day 1 said is recalled on day 2, offline.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

_FACTS = re.compile(r"<FACTS>\n(.*?)</FACTS>", re.S)


def facts_in(text: str) -> list[str]:
    """The fact lines of a context block (without the leading ``- ``)."""
    found = _FACTS.search(text or "")
    if not found:
        return []
    return [line[2:] for line in found.group(1).splitlines() if line.startswith("- ")]


def answer_from(texts: Sequence[str]) -> str:
    """``From memory: <facts>`` if any text holds a context block with facts, else a fixed reply."""
    for text in texts:
        facts = facts_in(text)
        if facts:
            return "From memory: " + "; ".join(facts)
    return "Nothing remembered yet."


class RecallingChatModel(GenericFakeChatModel):
    """A LangChain fake chat model that answers from the context block and records every call."""

    messages: Any = Field(default_factory=lambda: iter(()))
    calls: list[list[BaseMessage]] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> RecallingChatModel:
        """Tools are accepted and ignored (``create_agent`` binds them)."""
        return self

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        self.calls.append(list(messages))
        text = answer_from([str(m.text) for m in messages if m.type in ("tool", "system")])
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])


class ScriptedToolModel(GenericFakeChatModel):
    """A fake chat model that plays a script of tool calls, one step per model call, then answers.

    Each step is ``(name, args)`` or a function ``messages -> (name, args)`` (to use an earlier
    tool result, e.g. an id); once the script is done it replies with the last tool message's text.
    """

    messages: Any = Field(default_factory=lambda: iter(()))
    script: list[Any] = Field(default_factory=list)
    calls: list[list[BaseMessage]] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedToolModel:
        """Tools are accepted (the script names them)."""
        return self

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        self.calls.append(list(messages))
        if not self.script:
            last = next((str(m.text) for m in reversed(messages) if m.type == "tool"), "")
            return ChatResult(generations=[ChatGeneration(message=AIMessage(f"Done. {last}"))])
        step = self.script.pop(0)
        name, args = step(messages) if callable(step) else step
        call = {"name": name, "args": args, "id": f"call_{len(self.calls)}", "type": "tool_call"}
        return ChatResult(generations=[ChatGeneration(message=AIMessage("", tool_calls=[call]))])
