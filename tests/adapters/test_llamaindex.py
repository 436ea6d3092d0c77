"""LlamaIndex adapter: ``AgentMemory`` in chat engines and agents, ``AgentMemoryBlock`` in ``Memory``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import llama_index.memory.agent_memory as li_pkg
import pytest
from adapter_fakes import answer_from
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.chat_engine import CondensePlusContextChatEngine, SimpleChatEngine
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.memory import InsertMethod
from llama_index.core.memory import Memory as LlamaMemory
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.tools import FunctionTool
from llama_index.memory.agent_memory import AgentMemory, AgentMemoryBlock
from llama_index.memory.agent_memory.messages import to_openai_dicts

from agent_memory import AsyncMemory, Memory
from agent_memory.context.placement import check_openai_order

SYSTEM = "You are a helpful assistant. Be brief."


class Recorder:
    """A response generator for MockFunctionCallingLLM: answers from the context block, records calls."""

    def __init__(self, tool_call: dict[str, Any] | None = None) -> None:
        self.calls: list[list[ChatMessage]] = []
        self.tool_call = tool_call

    def __call__(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        self.calls.append(list(messages))
        answered = any(m.role == MessageRole.TOOL and m.additional_kwargs.get("tool_call_id") == "call_t"
                       for m in messages)
        if self.tool_call and not answered:
            call = ToolCallBlock(tool_call_id="call_t", **self.tool_call)
            return ChatMessage(role="assistant", blocks=[call])
        roles = (MessageRole.TOOL, MessageRole.SYSTEM, MessageRole.USER)
        texts = [m.content or "" for m in messages if m.role in roles]
        return ChatMessage(role="assistant", content=answer_from(texts))

    def llm(self) -> MockFunctionCallingLLM:
        return MockFunctionCallingLLM(response_generator=self, is_chat_model=True)


def test_all_is_pinned() -> None:
    assert sorted(li_pkg.__all__) == ["AgentMemory", "AgentMemoryBlock", "create_memory_tools"]


@pytest.mark.parametrize("placement", ["tool", "system"])
def test_simple_chat_engine_recall_across_threads(mem: Memory, placement: str) -> None:
    rec = Recorder()

    def engine(thread_id: str) -> SimpleChatEngine:
        chat_memory = AgentMemory.from_defaults(memory=mem, user_id="jane", thread_id=thread_id,
                                                placement=placement)
        return SimpleChatEngine.from_defaults(llm=rec.llm(), memory=chat_memory, system_prompt=SYSTEM)

    day1 = engine("day1")
    day1.chat("I moved to Denver last week.")
    day1.chat("I work at Acme Corp now.")
    reply = engine("day2").chat("Where do I live?")
    assert "Denver" in str(reply) and "Acme Corp" in str(reply)
    for call in rec.calls:
        check_openai_order(to_openai_dicts(call))
        assert call[0].role == MessageRole.SYSTEM and call[0].content == SYSTEM
    if placement == "tool":
        assert [[m.role.value for m in c] for c in rec.calls][1] == [
            "system", "user", "assistant", "user", "assistant", "tool"]
        assert {c[0].content for c in rec.calls} == {SYSTEM}
        assert sum(m.role == MessageRole.SYSTEM for m in rec.calls[-1]) == 1
    else:
        assert rec.calls[-1][1].role == MessageRole.SYSTEM and "<FACTS>" in rec.calls[-1][1].content
    stored = mem.thread.get_messages("day1")
    assert [m.role.value for m in stored] == ["user", "assistant", "user", "assistant"]
    assert not any("<FACTS>" in m.content for m in stored)
    assert [m.role.value for m in day1.chat_history] == ["user", "assistant", "user", "assistant"]


async def test_simple_chat_engine_async_on_async_memory(amem: AsyncMemory) -> None:
    rec = Recorder()
    for thread_id, text in (("day1", "I moved to Denver last week."), ("day2", "Where do I live?")):
        chat_memory = AgentMemory.from_defaults(memory=amem, user_id="jane", thread_id=thread_id)
        reply = await SimpleChatEngine.from_defaults(llm=rec.llm(), memory=chat_memory,
                                                     system_prompt=SYSTEM).achat(text)
    assert "Denver" in str(reply)
    assert {c[0].content for c in rec.calls} == {SYSTEM}
    with pytest.raises(TypeError, match="AsyncMemory"):
        AgentMemory.from_defaults(memory=amem, user_id="jane", thread_id="x").get()


def test_resuming_a_thread_and_reset(mem: Memory) -> None:
    rec = Recorder()
    first = AgentMemory.from_defaults(memory=mem, user_id="jane", thread_id="t1")
    engine = SimpleChatEngine.from_defaults(llm=rec.llm(), memory=first, system_prompt=SYSTEM)
    engine.chat("I moved to Denver.")
    resumed = AgentMemory.from_defaults(memory=mem, user_id="jane", thread_id="t1")
    assert [m.content for m in resumed.get_all()] == ["I moved to Denver.", first.get_all()[1].content]
    resumed.reset()
    assert resumed.get_all() == [] and mem.graph.facts(user_id="jane")  # the graph keeps what it learned
    with pytest.raises(Exception, match="does not exist"):
        mem.thread.get("t1")


class _OneNode(BaseRetriever):
    """A document retriever unrelated to the user (the engine's own RAG context)."""

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [NodeWithScore(node=TextNode(text="Office hours are 9 to 5."), score=1.0)]


def test_condense_plus_context_engine(mem: Memory) -> None:
    rec = Recorder()
    for thread_id, text in (("day1", "I moved to Denver last week."), ("day2", "Where do I live?")):
        chat_memory = AgentMemory.from_defaults(memory=mem, user_id="jane", thread_id=thread_id)
        engine = CondensePlusContextChatEngine.from_defaults(
            retriever=_OneNode(), llm=rec.llm(), memory=chat_memory, system_prompt=SYSTEM, skip_condense=True)
        reply = engine.chat(text)
    assert "Denver" in str(reply)
    last = to_openai_dicts(rec.calls[-1])
    check_openai_order(last)
    # the engine puts the user's message after get(): the pair comes right before it
    assert [m["role"] for m in last] == ["system", "assistant", "tool", "user"]
    assert [m.role.value for m in mem.thread.get_messages("day2")] == ["user", "assistant"]


async def test_function_agent_with_a_real_tool_call(mem: Memory) -> None:
    rec = Recorder()
    chat_memory = AgentMemory.from_defaults(memory=mem, user_id="jane", thread_id="day1")
    await FunctionAgent(llm=rec.llm(), tools=[], system_prompt=SYSTEM).run(
        user_msg="I moved to Denver last week.", memory=chat_memory)

    def weather(city: str) -> str:
        """The weather in a city."""
        return f"Sunny in {city}."

    rec2 = Recorder(tool_call={"tool_name": "weather", "tool_kwargs": {"city": "Denver"}})
    chat_memory2 = AgentMemory.from_defaults(memory=mem, user_id="jane", thread_id="day2")
    agent = FunctionAgent(llm=rec2.llm(), tools=[FunctionTool.from_defaults(weather)], system_prompt=SYSTEM)
    reply = await agent.run(user_msg="Where do I live, and how is the weather?", memory=chat_memory2)
    assert "Denver" in str(reply)
    for call in rec2.calls:
        check_openai_order(to_openai_dicts(call))
        assert call[0].content == SYSTEM
    assert [m["role"] for m in to_openai_dicts(rec2.calls[-1])] == [
        "system", "user", "assistant", "tool", "assistant", "tool"]
    # the agent's tool traffic stays in the session window; only text is written to the thread
    assert [m.role.value for m in chat_memory2.get_all()] == ["user", "assistant", "tool", "assistant"]
    assert [m.role.value for m in mem.thread.get_messages("day2")] == ["user", "assistant"]


async def test_function_agent_on_async_memory(amem: AsyncMemory) -> None:
    rec = Recorder()
    for thread_id, text in (("day1", "I moved to Denver last week."), ("day2", "Where do I live?")):
        chat_memory = AgentMemory.from_defaults(memory=amem, user_id="jane", thread_id=thread_id)
        reply = await FunctionAgent(llm=rec.llm(), tools=[], system_prompt=SYSTEM).run(user_msg=text,
                                                                                        memory=chat_memory)
    assert "Denver" in str(reply)


def test_another_users_thread_is_refused(mem: Memory) -> None:
    mem.user.add(user_id="bob")
    mem.thread.create(thread_id="bobs", user_id="bob")
    with pytest.raises(ValueError, match="belongs to user 'bob'"):
        AgentMemory.from_defaults(memory=mem, user_id="jane", thread_id="bobs").get_all()


def test_placement_is_validated(mem: Memory) -> None:
    with pytest.raises(ValueError, match="placement"):
        AgentMemory(memory=mem, user_id="jane", thread_id="t", placement="user")
    with pytest.raises(ValueError, match="memory"):
        AgentMemory(memory="not a memory", user_id="jane", thread_id="t")
    with pytest.raises(TypeError, match="thread_id"):
        AgentMemory.from_defaults(memory=mem, user_id="jane")


# -- the memory block ----------------------------------------------------------------------------------
def _llama_memory(mem: Memory | AsyncMemory, session: str, placement: str, **kwargs: Any) -> LlamaMemory:
    block = AgentMemoryBlock(memory=mem, user_id="jane", placement=placement)
    return LlamaMemory.from_defaults(session_id=session, insert_method=InsertMethod.USER,
                                     memory_blocks=[block], **kwargs)


def test_block_writes_flushed_messages_and_recalls_them(mem: Memory) -> None:
    rec = Recorder()
    day1 = _llama_memory(mem, "day1", "system", token_limit=60, chat_history_token_ratio=0.5,
                         token_flush_size=20)
    engine = SimpleChatEngine.from_defaults(llm=rec.llm(), memory=day1, system_prompt=SYSTEM)
    engine.chat("I moved to Denver last week.")
    engine.chat("I work at Acme Corp now, with my colleague Priya.")
    engine.chat("Thanks, that is all for today.")
    assert mem.thread.get_messages("day1")  # flushed messages were written to the thread
    reply = SimpleChatEngine.from_defaults(llm=rec.llm(), memory=_llama_memory(mem, "day2", "system"),
                                           system_prompt=SYSTEM).chat("Where do I live?")
    assert "Denver" in str(reply)
    last = rec.calls[-1]
    assert [m.role.value for m in last] == ["system", "user"] and last[0].content == SYSTEM
    assert "<agent_memory>" in last[1].content and last[1].content.endswith("Where do I live?")


@pytest.mark.parametrize("async_memory", [False, True])
async def test_block_tool_placement(mem: Memory, amem: AsyncMemory, async_memory: bool) -> None:
    memory: Memory | AsyncMemory = amem if async_memory else mem
    added = memory.graph.add(user_id="jane", type="text", data="I moved to Denver last week.")
    if async_memory:
        await added
    rec = Recorder()
    reply = await SimpleChatEngine.from_defaults(llm=rec.llm(), memory=_llama_memory(memory, "s", "tool"),
                                                 system_prompt=SYSTEM).achat("Where do I live?")
    assert "Denver" in str(reply)
    wire = to_openai_dicts(rec.calls[-1])
    assert [m["role"] for m in wire] == ["system", "assistant", "tool", "user"]
    assert wire[0]["content"] == SYSTEM and wire[-1]["content"] == "Where do I live?"
    check_openai_order(wire)

