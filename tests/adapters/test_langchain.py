"""LangChain adapter: chat message history (sync, async, RunnableWithMessageHistory) and retriever."""

from __future__ import annotations

import warnings
from typing import Any

import langchain_agent_memory
import pytest
from adapter_fakes import RecallingChatModel
from langchain_agent_memory import (
    AgentMemoryChatMessageHistory,
    AgentMemoryRetriever,
    memory_context,
    place_context,
    tool_pair,
)
from langchain_core.documents import Document
from langchain_core.messages import (
    AIMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    convert_to_openai_messages,
)
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory
from langchain_tests.integration_tests import RetrieversIntegrationTests

from agent_memory import AsyncMemory, Memory, Message
from agent_memory.context.placement import check_openai_order
from agent_memory.errors import ConfigError

DAY1 = "2024-03-01T10:00:00Z"


def test_all_is_pinned() -> None:
    assert sorted(langchain_agent_memory.__all__) == [
        "AgentMemoryChatMessageHistory", "AgentMemoryRetriever", "ManageMemoryTool", "SearchMemoryTool",
        "create_memory_tools", "memory_context", "place_context", "tool_pair"]


# -- chat message history ----------------------------------------------------------------------------
def test_history_round_trip_and_episodes(mem: Memory) -> None:
    history = AgentMemoryChatMessageHistory(mem, "t1", user_id="jane")
    assert history.messages == []  # a missing thread reads as empty when the user is known
    day1 = HumanMessage("I moved to Denver last week.", additional_kwargs={"created_at": DAY1})
    history.add_messages([day1, AIMessage("Noted!")])
    got = history.messages
    assert [(type(m), m.text) for m in got] == [
        (HumanMessage, "I moved to Denver last week."), (AIMessage, "Noted!")]
    assert got[0].additional_kwargs["created_at"].startswith("2024-03-01")
    episodes = mem.graph.episodes(user_id="jane", thread_id="t1")
    assert [e.content for e in episodes] == ["I moved to Denver last week.", "Noted!"]
    assert any("Denver" in f.fact for f in mem.graph.facts(user_id="jane"))


def test_history_without_user_needs_an_existing_thread(mem: Memory) -> None:
    with pytest.raises(ConfigError, match="pass user_id="):
        AgentMemoryChatMessageHistory(mem, "nope")  # refused at construction, saying what to pass
    mem.thread.create(thread_id="t9", user_id="jane")
    AgentMemoryChatMessageHistory(mem, "t9").add_message(HumanMessage("hello there"))
    assert [m.content for m in mem.thread.get_messages("t9")] == ["hello there"]


def test_history_refuses_another_users_thread(mem: Memory) -> None:
    mem.user.add(user_id="bob")
    mem.thread.create(thread_id="bobs", user_id="bob")
    mem.thread.add_messages("bobs", messages=[Message(role="user", content="Bob's secret")])
    history = AgentMemoryChatMessageHistory(mem, "bobs", user_id="jane")
    with pytest.raises(ValueError, match="belongs to user 'bob'"):
        _ = history.messages
    with pytest.raises(ValueError, match="belongs to user 'bob'"):
        history.add_messages([HumanMessage("hi")])


def test_history_skips_tool_traffic_and_the_synthetic_pair(mem: Memory) -> None:
    history = AgentMemoryChatMessageHistory(mem, "t1", user_id="jane")
    pair = tool_pair("<FACTS>\n- secret block\n</FACTS>", query="q")
    real_call = AIMessage("", tool_calls=[{"name": "weather", "args": {}, "id": "call_w"}])
    recall_by_model = AIMessage("", tool_calls=[{"name": "recall_memory", "args": {}, "id": "call_r"}])
    history.add_messages([
        SystemMessage("You are helpful."), HumanMessage("What's the weather?"), *pair,
        real_call, ToolMessage("sunny", tool_call_id="call_w"),
        recall_by_model, ToolMessage("<FACTS>block</FACTS>", tool_call_id="call_r"),
        AIMessage("It is sunny."),
    ])
    stored = mem.thread.get_messages("t1")
    assert [(m.role.value, m.content) for m in stored] == [
        ("system", "You are helpful."), ("user", "What's the weather?"), ("assistant", "It is sunny.")]


def test_history_clear_keeps_what_the_graph_learned(mem: Memory) -> None:
    history = AgentMemoryChatMessageHistory(mem, "t1", user_id="jane")
    history.add_messages([HumanMessage("I work at Acme Corp.")])
    history.clear()
    assert history.messages == []
    assert any("Acme" in f.fact for f in mem.graph.facts(user_id="jane"))
    history.clear()  # idempotent
    history.add_messages([HumanMessage("Back again.")])
    assert [m.text for m in history.messages] == ["Back again."]


async def test_history_async_on_memory(mem: Memory) -> None:
    history = AgentMemoryChatMessageHistory(mem, "t1", user_id="jane")
    await history.aadd_messages([HumanMessage("I adopted a cat named Miso.")])
    assert [m.text for m in await history.aget_messages()] == ["I adopted a cat named Miso."]
    await history.aclear()
    assert await history.aget_messages() == []


async def test_history_async_on_async_memory(amem: AsyncMemory) -> None:
    history = AgentMemoryChatMessageHistory(amem, "t1", user_id="jane")
    await history.aadd_messages([HumanMessage("I play the cello."), AIMessage("Lovely.")])
    assert [m.text for m in await history.aget_messages()] == ["I play the cello.", "Lovely."]
    with pytest.raises(TypeError, match="AsyncMemory"):
        _ = history.messages  # no blocking path on an AsyncMemory


def _chain(memory: Memory | AsyncMemory, model: RecallingChatModel, placement: str | None = None
           ) -> RunnableWithMessageHistory:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are helpful."), MessagesPlaceholder("history"), ("human", "{question}")])
    inner = prompt | model
    if placement is not None:
        inner = prompt | memory_context(memory, placement=placement) | model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return RunnableWithMessageHistory(
            inner,
            lambda session_id: AgentMemoryChatMessageHistory(memory, session_id, user_id="jane"),
            input_messages_key="question", history_messages_key="history")


def test_runnable_with_message_history_sync(mem: Memory) -> None:
    model = RecallingChatModel()
    chain = _chain(mem, model)
    cfg = {"configurable": {"session_id": "t1"}}
    chain.invoke({"question": "I moved to Denver last week."}, cfg)
    chain.invoke({"question": "And I work at Acme Corp."}, cfg)
    assert [m.content for m in mem.thread.get_messages("t1")] == [
        "I moved to Denver last week.", "Nothing remembered yet.", "And I work at Acme Corp.",
        "Nothing remembered yet."]
    # the second call saw the first turn as history
    assert [m.type for m in model.calls[1]] == ["system", "human", "ai", "human"]


async def test_runnable_with_message_history_async(amem: AsyncMemory) -> None:
    model = RecallingChatModel()
    chain = _chain(amem, model)
    await chain.ainvoke({"question": "I moved to Denver last week."}, {"configurable": {"session_id": "t1"}})
    await chain.ainvoke({"question": "Where do I live?"}, {"configurable": {"session_id": "t1"}})
    msgs = await amem.thread.get_messages("t1")
    assert len(msgs) == 4 and msgs[0].content == "I moved to Denver last week."


@pytest.mark.parametrize("placement", ["tool", "system"])
def test_memory_context_in_a_chain_recalls_across_sessions(mem: Memory, placement: str) -> None:
    model = RecallingChatModel()
    chain = _chain(mem, model, placement)
    for session, question in (("t1", "I moved to Denver last week."), ("t2", "Where do I live?")):
        chain.invoke({"question": question}, {"configurable": {"session_id": session, "user_id": "jane"}})
    assert "Denver" in mem.thread.get_messages("t2")[-1].content
    for call in model.calls:
        check_openai_order(convert_to_openai_messages(call))
    if placement == "tool":
        assert {c[0].text for c in model.calls} == {"You are helpful."}
        assert [m.type for m in model.calls[-1]] == ["system", "human", "ai", "tool"]
    else:
        assert model.calls[-1][0].text.startswith("You are helpful.\n\n<")
    stored = [m.content for t in ("t1", "t2") for m in mem.thread.get_messages(t)]
    assert len(stored) == 4 and not any("<FACTS>" in c for c in stored)  # the pair is never stored


async def test_memory_context_async_on_async_memory(amem: AsyncMemory) -> None:
    model = RecallingChatModel()
    chain = _chain(amem, model, "tool")
    for session, question in (("t1", "I moved to Denver last week."), ("t2", "Where do I live?")):
        config = {"configurable": {"session_id": session, "user_id": "jane"}}
        await chain.ainvoke({"question": question}, config)
    assert "Denver" in (await amem.thread.get_messages("t2"))[-1].content


def test_memory_context_needs_a_user(mem: Memory) -> None:
    runnable = memory_context(mem)
    with pytest.raises(ValueError, match="needs a user"):
        runnable.invoke([HumanMessage("hi")])
    placed = runnable.invoke([HumanMessage("hi")], {"configurable": {"user_id": "jane"}})
    assert [m.type for m in placed] in (["human"], ["human", "ai", "tool"])
    with pytest.raises(ValueError, match="placement"):
        memory_context(mem, placement="nowhere")  # type: ignore[arg-type]


def test_place_context_tool_and_system() -> None:
    system = SystemMessage("You are helpful.")
    convo = [HumanMessage("hi"), AIMessage("hello"), HumanMessage("where do I live?")]
    same, placed = place_context(convo, system, "<FACTS>\n- x\n</FACTS>", placement="tool", query="q")
    assert same is system and len(convo) == 3
    wire = convert_to_openai_messages([same, *placed])
    assert [m["role"] for m in wire] == ["system", "user", "assistant", "user", "assistant", "tool"]
    assert wire[-1]["content"] == "<FACTS>\n- x\n</FACTS>" and "name" not in wire[-1]
    check_openai_order(wire)
    new_sys, untouched = place_context(convo, system, "<FACTS/>", placement="system")
    assert new_sys.text == "You are helpful.\n\n<FACTS/>" and untouched == convo
    assert place_context(convo, system, "", placement="tool") == (system, convo)


# -- retriever ---------------------------------------------------------------------------------------
def _seed(memory: Memory) -> None:
    memory.thread.create(thread_id="day1", user_id="jane")
    memory.thread.add_messages("day1", messages=[
        Message(role="user", content="I moved to Denver last week and I work at Acme Corp with Priya.",
                created_at=DAY1),
        Message(role="user", content="My sister Anna lives in Boston.", created_at=DAY1),
        Message(role="user", content="I love hiking in the Rocky Mountains.", created_at=DAY1),
    ])


def test_retriever_documents_carry_dates_scores_and_provenance(mem: Memory) -> None:
    _seed(mem)
    docs = AgentMemoryRetriever(memory=mem, user_id="jane", k=10).invoke("Where does Jane live?")
    assert docs and all(isinstance(d, Document) for d in docs)
    kinds = {d.metadata["kind"] for d in docs}
    assert {"fact", "entity", "episode"} <= kinds
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)
    fact = next(d for d in docs if d.metadata["kind"] == "fact" and "Denver" in d.page_content)
    assert fact.metadata["valid_at"].startswith("2024-02-23")  # "last week" before 2024-03-01
    assert fact.metadata["invalid_at"] is None and fact.metadata["is_current"] is True
    episode_ids = {e.uuid for e in mem.graph.episodes(user_id="jane")}
    assert fact.metadata["episodes"] and set(fact.metadata["episodes"]) <= episode_ids
    assert fact.id == fact.metadata["uuid"]
    episode = next(d for d in docs if d.metadata["kind"] == "episode")
    assert episode.metadata["thread_id"] == "day1"
    assert episode.metadata["reference_time"].startswith("2024-03-01")


def test_retriever_scopes_filters_and_k(mem: Memory) -> None:
    _seed(mem)
    facts_only = AgentMemoryRetriever(memory=mem, user_id="jane", scopes=("edges",), k=2)
    docs = facts_only.invoke("Denver")
    assert len(docs) == 2 and {d.metadata["kind"] for d in docs} == {"fact"}
    assert len(facts_only.invoke("Denver", k=1)) == 1
    with pytest.raises(ValueError, match="scopes"):
        AgentMemoryRetriever(memory=mem, user_id="jane", scopes=("everything",))
    with pytest.raises(ValueError, match="memory"):
        AgentMemoryRetriever(memory=object(), user_id="jane")


def test_retriever_shows_a_closed_fact_with_its_range(mem: Memory) -> None:
    mem.thread.create(thread_id="t1", user_id="jane")
    mem.thread.add_messages("t1", messages=[
        Message(role="user", content="I work at Acme Corp.", created_at=DAY1)])
    mem.thread.add_messages("t1", messages=[Message(role="user", content="I no longer work at Acme Corp.",
                                                    created_at="2024-06-01T10:00:00Z")])
    docs = AgentMemoryRetriever(memory=mem, user_id="jane", scopes=("edges",), k=5).invoke("Acme Corp")
    closed = [d for d in docs if d.metadata["invalid_at"]]
    assert closed and closed[0].metadata["is_current"] is False
    assert closed[0].metadata["invalid_at"].startswith("2024-06-01")


async def test_retriever_async_on_async_memory(amem: AsyncMemory) -> None:
    await amem.thread.create(thread_id="t1", user_id="jane")
    await amem.thread.add_messages("t1", messages=[Message(role="user", content="I moved to Denver.")])
    retriever = AgentMemoryRetriever(memory=amem, user_id="jane", k=3)
    docs = await retriever.ainvoke("Denver")
    assert docs and any("Denver" in d.page_content for d in docs)
    with pytest.raises(TypeError, match="AsyncMemory"):
        retriever.invoke("Denver")


# -- the standard suite, unmodified ------------------------------------------------------------------
_STANDARD: dict[str, Any] = {}


def _standard_memory() -> Memory:
    """One seeded memory for the standard suite (it builds retrievers from a property, not a fixture)."""
    if "memory" not in _STANDARD:
        from agent_memory.embedding.minilm import MiniLMEmbedder
        from agent_memory.extraction.offline import OfflineExtractor

        memory = Memory.ephemeral(embedder=MiniLMEmbedder(), extractor=OfflineExtractor())
        memory.user.add(user_id="jane", first_name="Jane", last_name="Smith")
        _seed(memory)
        _STANDARD["memory"] = memory
    return _STANDARD["memory"]


class TestAgentMemoryRetrieverStandard(RetrieversIntegrationTests):
    """``langchain-tests``' RetrieversIntegrationTests, unmodified."""

    @property
    def retriever_constructor(self) -> type[AgentMemoryRetriever]:
        return AgentMemoryRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"memory": _standard_memory(), "user_id": "jane", "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "Where does Jane live and work?"
