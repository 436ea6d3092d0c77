"""A LlamaIndex ``FunctionAgent`` with ``memory=AgentMemory``: recall across threads, and memory tools.

Day 1, Jane tells the agent about her cat and asks it to remember her allergy: the agent calls the
``manage_memory`` tool. Day 2, a new thread (memory reopened from disk): the context block the
agent gets through ``memory=`` holds what she said, and ``search_memory`` finds the saved note.

    pip install -e ".[all]"
    python examples/llamaindex_function_agent.py

Offline: a scripted stand-in for a function-calling LLM answers from the context block and calls
the memory tools when asked to remember. Memory lives in a temporary directory unless
``AGENT_MEMORY_HOME`` is set.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections.abc import Sequence
from typing import Any

from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.memory.agent_memory import AgentMemory, create_memory_tools

from agent_memory import Memory

SYSTEM_PROMPT = "You are a friendly assistant. Use what you remember about the user."


def offline_llm(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
    """Stand-in for an LLM: "remember ..." calls manage_memory; a question is answered from memory."""
    last = messages[-1]
    if last.role == MessageRole.TOOL and last.additional_kwargs.get("tool_call_id") == "call_1":
        return ChatMessage(role="assistant", content="Saved to memory.")  # our manage_memory call answered
    question = next((m.content or "" for m in reversed(messages) if m.role == MessageRole.USER), "")
    if question.lower().startswith("please remember"):
        note = question.split(":", 1)[1].strip()
        call = ToolCallBlock(tool_call_id="call_1", tool_name="manage_memory",
                             tool_kwargs={"action": "create", "content": note})
        return ChatMessage(role="assistant", blocks=[call])
    block = next((m.content or "" for m in reversed(messages) if m.role == MessageRole.TOOL), "")
    facts = [f.rstrip(".") for f in re.findall(r"^- (.+) \(\S+ - present\)$", block, re.M)]
    if question.rstrip().endswith("?") and facts:
        return ChatMessage(role="assistant", content="From memory: " + "; ".join(facts) + ".")
    return ChatMessage(role="assistant", content="Thanks, I'll remember that.")


def agent(memory: Memory) -> FunctionAgent:
    return FunctionAgent(llm=MockFunctionCallingLLM(response_generator=offline_llm, is_chat_model=True),
                         tools=create_memory_tools(memory, user_id="jane"), system_prompt=SYSTEM_PROMPT)


async def say(memory: Memory, text: str, thread_id: str) -> str:
    chat_memory = AgentMemory.from_defaults(memory=memory, user_id="jane", thread_id=thread_id)
    reply = str(await agent(memory).run(user_msg=text, memory=chat_memory))
    print(f"  user: {text}\n  assistant: {reply}")
    return reply


async def main(home: str) -> None:
    print("== Day 1, thread day-1 ==")
    with Memory(home) as memory:
        await say(memory, "I adopted a grey cat called Miso.", "day-1")
        await say(memory, "Please remember: Jane is allergic to peanuts.", "day-1")

    print("== Day 2, a new thread (day-2), memory reopened from disk ==")
    with Memory(home) as memory:
        reply = await say(memory, "What do you know about my cat?", "day-2")
        print(f"RECALL ACROSS THREADS: {'yes' if 'cat' in reply else 'no'}")
        search = create_memory_tools(memory, user_id="jane")[0]
        found = await search.acall(query="allergies")
        print(f"SAVED NOTE FOUND: {'yes' if 'peanuts' in str(found) else 'no'}")


if __name__ == "__main__":
    if os.environ.get("AGENT_MEMORY_HOME"):
        asyncio.run(main(os.environ["AGENT_MEMORY_HOME"]))
    else:
        with tempfile.TemporaryDirectory(prefix="agent-memory-example-") as tmp:
            asyncio.run(main(tmp))
