"""A LangGraph ``StateGraph`` with a long-term ``store`` and the memory node: remember, recall, forget.

The graph is compiled with ``store=AgentMemoryStore(memory)``, so a node writes memories the way
LangGraph documents it, ``store.put(("memories", user_id), key, {"text": ...})``, and they land in
that user's agent-memory graph. The ``create_memory_node`` answers with the user's context block
(built from those memories and the conversation). ``store.delete`` forgets what an item said.

    pip install -e ".[all]"
    python examples/langgraph_store_graph.py

Offline: a small fake chat model answers from the context block it is given. Memory lives in a
temporary directory unless ``AGENT_MEMORY_HOME`` is set.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.runtime import Runtime
from langgraph_agent_memory import AgentMemoryStore, create_memory_node
from pydantic import Field

from agent_memory import Memory


@dataclass
class UserContext:
    """Whose run this is (``graph.invoke(..., context=UserContext("jane"))``)."""

    user_id: str


class MemoryEchoModel(GenericFakeChatModel):
    """Offline stand-in for a chat model: answers questions with the current facts of the context block."""

    messages: Any = Field(default_factory=lambda: iter(()))

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        question = next((str(m.text) for m in reversed(messages) if m.type == "human"), "")
        block = next((str(m.text) for m in reversed(messages) if m.type == "tool"), "")
        facts = [f.rstrip(".") for f in re.findall(r"^- (.+) \(\S+ - present\)$", block, re.M)]
        text = ("From memory: " + "; ".join(facts) + ".") if question.endswith("?") and facts else "Noted."
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])


def save_note(state: MessagesState, runtime: Runtime[UserContext]) -> dict[str, Any]:
    """A node: "Remember: ..." messages become store items in the user's namespace."""
    text = str(state["messages"][-1].text)
    if text.lower().startswith("remember:") and runtime.store is not None:
        runtime.store.put(("memories", runtime.context.user_id), str(uuid.uuid4()),
                          {"text": text.split(":", 1)[1].strip()})
    return {}


def build(memory: Memory) -> Any:
    builder = StateGraph(MessagesState, context_schema=UserContext)
    builder.add_node("save_note", save_note)
    builder.add_node("agent", create_memory_node(MemoryEchoModel(), memory, system_prompt="You are helpful."))
    builder.add_edge(START, "save_note")
    builder.add_edge("save_note", "agent")
    builder.add_edge("agent", END)
    return builder.compile(checkpointer=InMemorySaver(), store=AgentMemoryStore(memory))


def say(graph: Any, text: str, thread_id: str) -> str:
    out = graph.invoke({"messages": [HumanMessage(text)]}, {"configurable": {"thread_id": thread_id}},
                       context=UserContext(user_id="jane"))
    reply = str(out["messages"][-1].text)
    print(f"  user: {text}\n  assistant: {reply}")
    return reply


def main(home: str) -> None:
    with Memory(home) as memory:
        graph = build(memory)
        print("== Day 1, thread day-1 ==")
        say(graph, "Remember: Jane is allergic to peanuts.", "day-1")
        say(graph, "I moved to Denver last week.", "day-1")

        print("== Day 2, a new thread ==")
        reply = say(graph, "What should I know before cooking for me?", "day-2")
        print(f"RECALL ACROSS THREADS: {'yes' if 'peanuts' in reply else 'no'}")
        store = AgentMemoryStore(memory)
        for item in store.search(("memories", "jane"), query="food allergies"):
            print(f"  store item {item.key[:8]} score={item.score:.2f}: {item.value}")

        print("== Day 3: Jane asks to forget the allergy note ==")
        for item in store.search(("memories", "jane"), query="allergic to peanuts"):
            store.delete(item.namespace, item.key)
        reply = say(graph, "What should I know before cooking for me?", "day-3")
        print(f"FORGOTTEN AFTER DELETE: {'yes' if 'peanuts' not in reply else 'no'}")


if __name__ == "__main__":
    if os.environ.get("AGENT_MEMORY_HOME"):
        main(os.environ["AGENT_MEMORY_HOME"])
    else:
        with tempfile.TemporaryDirectory(prefix="agent-memory-example-") as tmp:
            main(tmp)
