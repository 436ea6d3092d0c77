"""A LangChain v1 ``create_agent`` that remembers users across threads.

Day 1, in one thread, Jane tells the agent about herself. Day 2, in a new thread (and a new
process state: the memory is closed and reopened from disk), the agent knows where she lives.
The user comes in through ``context=`` (the run's ``Runtime.context``), as LangChain documents;
``AgentMemoryMiddleware`` places her context block each turn and writes the turn back, and the
memory tools let the model search, save, update and forget memories of that same user.

    pip install -e ".[all]"
    python examples/langgraph_agent.py

Offline by default: a small fake chat model answers from the context block it is given, so you
can see exactly what memory supplied. With ``OPENAI_API_KEY`` set (and ``pip install
langchain-openai``), a real model answers instead. Memory lives in a temporary directory unless
``AGENT_MEMORY_HOME`` is set.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.checkpoint.memory import InMemorySaver
from langgraph_agent_memory import AgentMemoryMiddleware, create_memory_tools
from pydantic import Field

from agent_memory import Memory

SYSTEM_PROMPT = "You are a friendly assistant. Use what you remember about the user."
USER = {"user_id": "jane", "first_name": "Jane", "last_name": "Smith"}


@dataclass
class UserContext:
    """What each run is for (LangChain v1: ``create_agent(context_schema=...)``, ``invoke(context=...)``)."""

    user_id: str


class MemoryEchoModel(GenericFakeChatModel):
    """Offline stand-in for a chat model: replies with the current facts of the context block."""

    messages: Any = Field(default_factory=lambda: iter(()))

    def bind_tools(self, tools: Any, **kwargs: Any) -> MemoryEchoModel:
        return self

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        question = next((str(m.text) for m in reversed(messages) if m.type == "human"), "")
        block = next((str(m.text) for m in reversed(messages) if m.type == "tool"), "")
        facts = [f.rstrip(".") for f in re.findall(r"^- (.+) \(\S+ - present\)$", block, re.M)]
        if question.rstrip().endswith("?") and facts:
            text = "From memory: " + "; ".join(facts) + "."
        else:
            text = "Thanks, I'll remember that."
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])


def chat_model() -> BaseChatModel:
    """A real model when OPENAI_API_KEY is set and langchain-openai is installed; else the fake."""
    if os.environ.get("OPENAI_API_KEY"):
        try:
            from langchain_openai import ChatOpenAI  # type: ignore[import-not-found]

            return ChatOpenAI(model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"), temperature=0)
        except ImportError:
            print("(OPENAI_API_KEY is set but langchain-openai is not installed: using the offline model)")
    return MemoryEchoModel()


def build_agent(model: BaseChatModel, memory: Memory) -> Any:
    return create_agent(model, tools=create_memory_tools(memory), system_prompt=SYSTEM_PROMPT,
                        middleware=[AgentMemoryMiddleware(memory)], context_schema=UserContext,
                        checkpointer=InMemorySaver())


def say(agent: Any, text: str, *, thread_id: str) -> str:
    result = agent.invoke({"messages": [HumanMessage(text)]}, {"configurable": {"thread_id": thread_id}},
                          context=UserContext(user_id=USER["user_id"]))
    reply = str(result["messages"][-1].text)
    print(f"  user: {text}\n  assistant: {reply}")
    return reply


def main(home: str) -> None:
    model = chat_model()

    print("== Day 1, thread day-1 ==")
    with Memory(home) as memory:
        memory.user.add(**USER)  # optional: a user is created on first use; this names her
        agent = build_agent(model, memory)
        say(agent, "Hi! I moved to Denver last week. I work at Acme Corp.", thread_id="day-1")
        say(agent, "Also, my sister Anna lives in Boston.", thread_id="day-1")

    print("== Day 2, a new thread (day-2), memory reopened from disk ==")
    with Memory(home) as memory:
        agent = build_agent(model, memory)
        reply = say(agent, "Where do I live, and where do I work?", thread_id="day-2")
        print(f"RECALL ACROSS THREADS: {'yes' if 'Denver' in reply else 'no'}")
        print("Facts in Jane's graph:")
        for fact in memory.graph.facts(user_id="jane"):
            since = f" (since {fact.valid_at:%Y-%m-%d})" if fact.valid_at else ""
            print(f"  - {fact.fact}{since}")


if __name__ == "__main__":
    if os.environ.get("AGENT_MEMORY_HOME"):
        main(os.environ["AGENT_MEMORY_HOME"])
    else:
        with tempfile.TemporaryDirectory(prefix="agent-memory-example-") as tmp:
            main(tmp)
