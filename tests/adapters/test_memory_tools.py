"""Memory tools an agent calls: search_memory and manage_memory (save, update, forget), scoped to the run's user.

Also the middleware's recall tool, which must find the user where LangChain v1 puts it (``context=``)
and where LangGraph Agent Server puts it (``configurable["langgraph_auth_user_id"]``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from adapter_fakes import ScriptedToolModel
from langchain.agents import create_agent
from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests
from langgraph.checkpoint.memory import InMemorySaver
from langgraph_agent_memory import AgentMemoryMiddleware, create_memory_tools

from agent_memory import AsyncMemory, Memory
from agent_memory.errors import ConfigError
from langchain_agent_memory import ManageMemoryTool, SearchMemoryTool


@dataclass
class Ctx:
    user_id: str


def tool_results(model: ScriptedToolModel) -> list[str]:
    """The tool messages the model saw, in order (each call's new ones)."""
    seen: list[str] = []
    for call in model.calls:
        for m in call:
            if isinstance(m, ToolMessage) and str(m.text) not in seen:
                seen.append(str(m.text))
    return seen


def last_tool_json(messages: list[BaseMessage]) -> Any:
    return json.loads(next(str(m.text) for m in reversed(messages) if m.type == "tool"))


def current_facts(mem: Memory, user_id: str) -> list[str]:
    return [f.fact for f in mem.graph.facts(user_id=user_id, valid_only=True)]


def memory_agent(mem: Memory | AsyncMemory, script: list[Any]) -> tuple[Any, ScriptedToolModel]:
    model = ScriptedToolModel(script=script)
    return create_agent(model, tools=create_memory_tools(mem), context_schema=Ctx,
                        checkpointer=InMemorySaver()), model


def _id_of(text: str) -> Any:
    def step(messages: list[BaseMessage]) -> tuple[str, dict[str, Any]]:
        hit = next(h for h in last_tool_json(messages) if text in h["text"])
        return "manage_memory", {"action": "delete", "id": hit["id"]}
    return step


def test_agent_saves_searches_and_forgets_for_the_context_user(mem: Memory) -> None:
    app, model = memory_agent(mem, [
        ("manage_memory", {"content": "Jane is allergic to peanuts", "action": "create"}),
        ("search_memory", {"query": "what is Jane allergic to?"}),
        _id_of("allergic to peanuts"),
    ])
    app.invoke({"messages": [HumanMessage("Remember my allergy, then forget it.")]},
               {"configurable": {"thread_id": "t1"}}, context=Ctx(user_id="jane"))
    saved, found, forgot = tool_results(model)
    assert saved.startswith("Saved memory ")
    hits = json.loads(found)
    assert any("allergic to peanuts" in h["text"] for h in hits)
    assert all(0.0 <= h["relevance"] <= 1.0 for h in hits)
    assert forgot.startswith("Forgot memory ")
    assert not any("peanuts" in f for f in current_facts(mem, "jane"))
    assert "allergic" not in mem.context.get(user_id="jane", query="allergic to peanuts").context


async def test_update_replaces_and_async_agent_works(amem: AsyncMemory) -> None:
    await amem.graph.add(user_id="jane", type="text", data="Jane lives in Boston")
    app, model = memory_agent(amem, [
        ("search_memory", {"query": "where does Jane live?"}),
        lambda msgs: ("manage_memory", {"action": "update", "content": "Jane lives in Denver",
                                        "id": next(h["id"] for h in last_tool_json(msgs) if "Boston" in h["text"])}),
    ])
    await app.ainvoke({"messages": [HumanMessage("I moved to Denver.")]},
                      {"configurable": {"thread_id": "t1"}}, context=Ctx(user_id="jane"))
    assert tool_results(model)[-1].startswith("Updated memory ")
    facts = [f.fact for f in await amem.graph.facts(user_id="jane", valid_only=True)]
    assert any("Denver" in f for f in facts) and not any("Boston" in f for f in facts)


def test_a_user_cannot_touch_another_users_memory(mem: Memory) -> None:
    saved = ManageMemoryTool(memory=mem, user_id="jane").invoke({"content": "Jane's PIN hint is her cat"})
    jane_id = saved.split()[-1].rstrip(".")
    mem.user.add(user_id="bob")
    app, model = memory_agent(mem, [
        ("search_memory", {"query": "PIN hint cat"}),
        ("manage_memory", {"action": "delete", "id": jane_id}),
    ])
    app.invoke({"messages": [HumanMessage("hi")]}, {"configurable": {"thread_id": "b1"}}, context=Ctx(user_id="bob"))
    found, refused = tool_results(model)
    assert "PIN" not in found
    assert "no memory with id" in refused  # returned to the model as an error, nothing deleted
    assert any(e.uuid == jane_id for e in mem.graph.episodes(user_id="jane"))


def test_tools_report_bad_arguments_to_the_model(mem: Memory) -> None:
    manage = ManageMemoryTool(memory=mem, user_id="jane")
    out = manage.invoke({"name": "manage_memory", "args": {"action": "update", "content": "x"}, "id": "c1",
                         "type": "tool_call"})
    assert out.status == "error" and "needs the id" in out.text
    with pytest.raises(ConfigError, match="no user_id"):
        SearchMemoryTool(memory=mem).invoke({"query": "anything"})


# -- the middleware's recall tool ----------------------------------------------------------------
def recall_agent(mem: Memory, **kwargs: Any) -> tuple[Any, ScriptedToolModel]:
    model = ScriptedToolModel(script=[("recall_memory", {"query": "where does Jane live?"})])
    return create_agent(model, tools=[], middleware=[AgentMemoryMiddleware(mem, **kwargs)],
                        context_schema=Ctx, checkpointer=InMemorySaver()), model


def test_recall_tool_reads_the_user_from_context(mem: Memory) -> None:
    mem.graph.add(user_id="jane", type="text", data="Jane lives in Lisbon")
    app, model = recall_agent(mem)
    app.invoke({"messages": [HumanMessage("Where do I live?")]}, {"configurable": {"thread_id": "t1"}},
               context=Ctx(user_id="jane"))
    assert "Lisbon" in tool_results(model)[-1]


def test_recall_tool_reads_the_agent_server_user(mem: Memory) -> None:
    mem.graph.add(user_id="jane", type="text", data="Jane lives in Lisbon")
    app, model = recall_agent(mem)
    app.invoke({"messages": [HumanMessage("Where do I live?")]},
               {"configurable": {"thread_id": "t1", "langgraph_auth_user_id": "jane"}})
    assert "Lisbon" in tool_results(model)[-1]
    with pytest.raises(ConfigError, match="authenticated as 'jane'"):
        app.invoke({"messages": [HumanMessage("x")]},
                   {"configurable": {"thread_id": "t2", "langgraph_auth_user_id": "jane", "user_id": "bob"}})


# -- langchain-tests' standard suites ---------------------------------------------------------------
_STANDARD: dict[str, Memory] = {}


def _standard_memory() -> Memory:
    """One memory for the standard suites (they build tools from a property, not a fixture)."""
    if "memory" not in _STANDARD:
        from agent_memory.embedding.minilm import MiniLMEmbedder
        from agent_memory.extraction.offline import OfflineExtractor

        memory = Memory.ephemeral(embedder=MiniLMEmbedder(), extractor=OfflineExtractor())
        memory.user.add(user_id="jane", first_name="Jane", last_name="Smith")
        memory.graph.add(user_id="jane", type="text", data="Jane lives in Denver")
        _STANDARD["memory"] = memory
    return _STANDARD["memory"]


class _SearchTool:
    @property
    def tool_constructor(self) -> type[SearchMemoryTool]:
        return SearchMemoryTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"memory": _standard_memory(), "user_id": "jane"}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"query": "Where does Jane live?", "limit": 3}


class _ManageTool:
    @property
    def tool_constructor(self) -> type[ManageMemoryTool]:
        return ManageMemoryTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"memory": _standard_memory(), "user_id": "jane"}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"content": "Jane prefers window seats", "action": "create"}


class TestSearchMemoryToolUnit(_SearchTool, ToolsUnitTests):
    """``langchain-tests``' ToolsUnitTests, unmodified."""


class TestSearchMemoryToolIntegration(_SearchTool, ToolsIntegrationTests):
    """``langchain-tests``' ToolsIntegrationTests, unmodified."""


class TestManageMemoryToolUnit(_ManageTool, ToolsUnitTests):
    """``langchain-tests``' ToolsUnitTests, unmodified."""


class TestManageMemoryToolIntegration(_ManageTool, ToolsIntegrationTests):
    """``langchain-tests``' ToolsIntegrationTests, unmodified."""
