"""A LlamaIndex chat engine that remembers users across threads.

Day 1, Jane chats in one thread. Day 2, a new chat engine on a new thread (and a memory reopened
from disk) recalls what she said. ``AgentMemory`` is the engine's memory: every message is written
to the thread, and each turn the user's context block is placed after her latest message as a
``recall_memory`` tool call and its result, so the system prompt never changes.

    pip install -e ".[all]"
    python examples/llamaindex_chat_engine.py

Offline by default: a fake LLM answers from the context block it is given. With
``OPENAI_API_KEY`` set (and ``pip install llama-index-llms-openai``), a real model answers.
Memory lives in a temporary directory unless ``AGENT_MEMORY_HOME`` is set.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.llms import LLM
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.memory.agent_memory import AgentMemory

from agent_memory import Memory

SYSTEM_PROMPT = "You are a friendly assistant. Use what you remember about the user."


def answer_from_memory(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
    """Offline stand-in for an LLM: replies to questions with the current facts of the context block."""
    question = next((m.content or "" for m in reversed(messages) if m.role == MessageRole.USER), "")
    block = next((m.content or "" for m in reversed(messages) if m.role == MessageRole.TOOL), "")
    facts = [f.rstrip(".") for f in re.findall(r"^- (.+) \(\S+ - present\)$", block, re.M)]
    if question.rstrip().endswith("?") and facts:
        return ChatMessage(role="assistant", content="From memory: " + "; ".join(facts) + ".")
    return ChatMessage(role="assistant", content="Thanks, I'll remember that.")


def llm() -> LLM:
    """A real model when OPENAI_API_KEY is set and llama-index-llms-openai is installed; else the fake."""
    if os.environ.get("OPENAI_API_KEY"):
        try:
            from llama_index.llms.openai import OpenAI  # type: ignore[import-not-found]

            return OpenAI(model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"), temperature=0)
        except ImportError:
            print("(OPENAI_API_KEY is set but llama-index-llms-openai is not installed: "
                  "using the offline model)")
    return MockFunctionCallingLLM(response_generator=answer_from_memory, is_chat_model=True)


def engine(memory: Memory, thread_id: str) -> SimpleChatEngine:
    chat_memory = AgentMemory.from_defaults(memory=memory, user_id="jane", thread_id=thread_id)
    return SimpleChatEngine.from_defaults(llm=llm(), memory=chat_memory, system_prompt=SYSTEM_PROMPT)


def say(chat: SimpleChatEngine, text: str) -> str:
    reply = str(chat.chat(text))
    print(f"  user: {text}\n  assistant: {reply}")
    return reply


def main(home: str) -> None:
    print("== Day 1, thread day-1 ==")
    with Memory(home) as memory:
        memory.user.add(user_id="jane", first_name="Jane", last_name="Smith")
        chat = engine(memory, "day-1")
        say(chat, "I adopted a grey cat called Miso.")
        say(chat, "I play tennis every Sunday.")

    print("== Day 2, a new thread (day-2), memory reopened from disk ==")
    with Memory(home) as memory:
        reply = say(engine(memory, "day-2"), "What do you know about my cat?")
        print(f"RECALL ACROSS THREADS: {'yes' if 'cat' in reply else 'no'}")


if __name__ == "__main__":
    if os.environ.get("AGENT_MEMORY_HOME"):
        main(os.environ["AGENT_MEMORY_HOME"])
    else:
        with tempfile.TemporaryDirectory(prefix="agent-memory-example-") as tmp:
            main(tmp)
