"""LangGraph per-turn memory: ``create_agent`` middleware and the ``StateGraph`` node, sync and async."""

from __future__ import annotations

from typing import Any

import pytest
from adapter_fakes import RecallingChatModel
from langchain.agents import create_agent
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    convert_to_openai_messages,
)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph_agent_memory import AgentMemoryMiddleware, AgentMemoryStore, create_memory_node

from agent_memory import AsyncMemory, Memory
from agent_memory.context.placement import check_openai_order
from agent_memory.errors import ConfigError

SYSTEM = "You are a helpful assistant. Be brief."


def cfg(thread_id: str | None, user_id: str | None = "jane") -> dict[str, Any]:
    configurable = {k: v for k, v in (("thread_id", thread_id), ("user_id", user_id)) if v}
    return {"configurable": configurable}


def wire(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    return convert_to_openai_messages(messages)  # type: ignore[return-value]


def agent(memory: Memory | AsyncMemory, model: RecallingChatModel, **kwargs: Any) -> Any:
    return create_agent(model, tools=[], system_prompt=SYSTEM,
                        middleware=[AgentMemoryMiddleware(memory, **kwargs)], checkpointer=InMemorySaver())


def roles(messages: list[BaseMessage]) -> list[str]:
    return [m["role"] for m in wire(messages)]


def test_tool_placement_recall_across_threads(mem: Memory) -> None:
    model = RecallingChatModel()
    app = agent(mem, model)
    app.invoke({"messages": [HumanMessage("I moved to Denver last week.")]}, cfg("day1"))
    app.invoke({"messages": [HumanMessage("I work at Acme Corp now.")]}, cfg("day1"))
    out = app.invoke({"messages": [HumanMessage("Where do I live?")]}, cfg("day2"))
    assert "Denver" in out["messages"][-1].text and "Acme Corp" in out["messages"][-1].text

    # every model call: static system prompt first, the pair right after the last human message
    systems = [call[0] for call in model.calls]
    assert all(isinstance(s, SystemMessage) for s in systems)
    assert {s.text for s in systems} == {SYSTEM}  # byte-identical across turns and threads
    for call in model.calls:
        check_openai_order(wire(call))
        assert roles(call)[-2:] == ["assistant", "tool"]
        assert wire(call)[-2]["tool_calls"][0]["function"]["name"] == "recall_memory"
    assert roles(model.calls[1]) == ["system", "user", "assistant", "user", "assistant", "tool"]

    # never persisted: not in the agent state, not in the thread
    state = app.get_state(cfg("day1"))
    assert [m.type for m in state.values["messages"]] == ["human", "ai", "human", "ai"]
    stored = mem.thread.get_messages("day1")
    assert [m.role.value for m in stored] == ["user", "assistant", "user", "assistant"]
    assert not any("<FACTS>" in m.content for m in stored)


def test_declared_recall_tool_keeps_tools_static(mem: Memory) -> None:
    middleware = AgentMemoryMiddleware(mem)
    assert [t.name for t in middleware.tools] == ["recall_memory"]
    assert AgentMemoryMiddleware(mem, placement="system").tools == []
    assert AgentMemoryMiddleware(mem, declare_tool=False).tools == []
    mem.thread.create(thread_id="t1", user_id="jane")
    from agent_memory import Message

    mem.thread.add_messages("t1", messages=[Message(role="user", content="I moved to Denver.")])
    from langchain_core.runnables import RunnableLambda

    recalled = RunnableLambda(lambda q: middleware.tools[0].invoke({"query": q})).invoke(
        "where do I live?", cfg("t1"))
    assert "Denver" in recalled


def test_system_placement(mem: Memory) -> None:
    model = RecallingChatModel()
    app = agent(mem, model, placement="system")
    app.invoke({"messages": [HumanMessage("I moved to Denver last week.")]}, cfg("day1"))
    out = app.invoke({"messages": [HumanMessage("Where do I live?")]}, cfg("day2"))
    assert "Denver" in out["messages"][-1].text
    last = model.calls[-1]
    assert roles(last) == ["system", "user"]
    assert last[0].text.startswith(SYSTEM + "\n\n") and "<FACTS>" in last[0].text


async def test_tool_placement_async_on_async_memory(amem: AsyncMemory) -> None:
    model = RecallingChatModel()
    app = agent(amem, model)
    await app.ainvoke({"messages": [HumanMessage("I moved to Denver last week.")]}, cfg("day1"))
    out = await app.ainvoke({"messages": [HumanMessage("Where do I live?")]}, cfg("day2"))
    assert "Denver" in out["messages"][-1].text
    assert {c[0].text for c in model.calls} == {SYSTEM}
    for call in model.calls:
        check_openai_order(wire(call))
    assert [m.role.value for m in await amem.thread.get_messages("day2")] == ["user", "assistant"]
    with pytest.raises(TypeError, match="AsyncMemory"):
        app.invoke({"messages": [HumanMessage("sync?")]}, cfg("day3"))


async def test_async_on_sync_memory(mem: Memory) -> None:
    model = RecallingChatModel()
    app = agent(mem, model)
    await app.ainvoke({"messages": [HumanMessage("I moved to Denver last week.")]}, cfg("day1"))
    out = await app.ainvoke({"messages": [HumanMessage("Where do I live?")]}, cfg("day2"))
    assert "Denver" in out["messages"][-1].text


def test_user_id_from_context_and_fallback(mem: Memory) -> None:
    from dataclasses import dataclass

    @dataclass
    class Ctx:
        user_id: str

    model = RecallingChatModel()
    app = create_agent(model, tools=[], system_prompt=SYSTEM, middleware=[AgentMemoryMiddleware(mem)],
                       context_schema=Ctx, checkpointer=InMemorySaver())
    app.invoke({"messages": [HumanMessage("I moved to Denver last week.")]}, cfg("t1", user_id=None),
               context=Ctx(user_id="jane"))
    assert mem.thread.get("t1").user_id == "jane"

    fallback = agent(mem, RecallingChatModel(), user_id="jane")
    fallback.invoke({"messages": [HumanMessage("Hello")]}, cfg("t2", user_id=None))
    assert mem.thread.get("t2").user_id == "jane"

    nobody = agent(mem, RecallingChatModel())
    with pytest.raises(ConfigError, match="user_id"):
        nobody.invoke({"messages": [HumanMessage("Hello")]}, cfg("t3", user_id=None))


def test_without_a_thread_the_turn_is_still_remembered(mem: Memory) -> None:
    model = RecallingChatModel()
    app = create_agent(model, tools=[], system_prompt=SYSTEM, middleware=[AgentMemoryMiddleware(mem)])
    app.invoke({"messages": [HumanMessage("I moved to Denver last week.")]}, cfg(None))
    out = app.invoke({"messages": [HumanMessage("Where do I live?")]}, cfg(None))
    assert "Denver" in out["messages"][-1].text
    assert [e.thread_id for e in mem.graph.episodes(user_id="jane")] == [None] * 4


def test_a_thread_of_another_user_is_refused(mem: Memory) -> None:
    mem.user.add(user_id="bob")
    mem.thread.create(thread_id="bobs", user_id="bob")
    with pytest.raises(ValueError, match="belongs to user 'bob'"):
        agent(mem, RecallingChatModel()).invoke({"messages": [HumanMessage("hi")]}, cfg("bobs"))


def test_write_back_off(mem: Memory) -> None:
    app = agent(mem, RecallingChatModel(), write_back=False)
    app.invoke({"messages": [HumanMessage("I moved to Denver last week.")]}, cfg("t1"))
    assert mem.thread.get_messages("t1") == []


def test_with_the_agent_memory_store(mem: Memory) -> None:
    """The store and the middleware share the user's graph: a stored preference is recalled."""
    store = AgentMemoryStore(mem)
    store.put(("memories", "jane"), "diet", {"fact": "Jane is vegetarian"})
    model = RecallingChatModel()
    app = create_agent(model, tools=[], system_prompt=SYSTEM, middleware=[AgentMemoryMiddleware(mem)],
                       checkpointer=InMemorySaver(), store=store)
    app.invoke({"messages": [HumanMessage("What should I cook tonight? I am vegetarian.")]}, cfg("t1"))
    tool_text = wire(model.calls[-1])[-1]["content"]
    assert "vegetarian" in tool_text


def _graph(node: Any) -> Any:
    builder = StateGraph(MessagesState)
    builder.add_node("agent", node)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    return builder.compile(checkpointer=InMemorySaver())


@pytest.mark.parametrize("placement", ["tool", "system"])
def test_memory_node_sync(mem: Memory, placement: str) -> None:
    model = RecallingChatModel()
    graph = _graph(create_memory_node(model, mem, system_prompt=SYSTEM, placement=placement))
    graph.invoke({"messages": [HumanMessage("I moved to Denver last week.")]}, cfg("day1"))
    out = graph.invoke({"messages": [HumanMessage("Where do I live?")]}, cfg("day2"))
    assert "Denver" in out["messages"][-1].text
    for call in model.calls:
        check_openai_order(wire(call))
    if placement == "tool":
        assert {c[0].text for c in model.calls} == {SYSTEM}
    assert [m.type for m in out["messages"]] == ["human", "ai"]
    assert [m.role.value for m in mem.thread.get_messages("day2")] == ["user", "assistant"]


async def test_memory_node_async(amem: AsyncMemory) -> None:
    model = RecallingChatModel()
    graph = _graph(create_memory_node(model, amem, system_prompt=SYSTEM))
    await graph.ainvoke({"messages": [HumanMessage("I moved to Denver last week.")]}, cfg("day1"))
    out = await graph.ainvoke({"messages": [HumanMessage("Where do I live?")]}, cfg("day2"))
    assert "Denver" in out["messages"][-1].text
    assert isinstance(out["messages"][-1], AIMessage)
