"""The first turn of a new session, as LangChain users write it: no ConfigError, or one that says what to pass."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from adapter_fakes import RecallingChatModel
from langchain_core.messages import HumanMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory

from agent_memory import AsyncMemory, Memory
from agent_memory.errors import ConfigError
from langchain_agent_memory import AgentMemoryChatMessageHistory, memory_context


def chain(memory: Memory | AsyncMemory, model: RecallingChatModel, factory: Any) -> RunnableWithMessageHistory:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are helpful."), MessagesPlaceholder("history"), ("human", "{question}")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # RunnableWithMessageHistory is deprecated in langchain-core 1.8
        return RunnableWithMessageHistory(prompt | memory_context(memory) | model, factory,
                                          input_messages_key="question", history_messages_key="history")


def test_memory_context_works_on_the_first_turn_of_a_new_session(mem: Memory) -> None:
    mem.graph.add(user_id="jane", type="text", data="Jane lives in Denver")
    model = RecallingChatModel()
    app = chain(mem, model, lambda session_id: AgentMemoryChatMessageHistory(mem, session_id, user_id="jane"))
    out = app.invoke({"question": "Where do I live?"}, {"configurable": {"session_id": "brand-new"}})
    assert "Denver" in out.text  # the block reached the model on turn one
    assert mem.thread.get("brand-new").user_id == "jane"


async def test_first_turn_async(amem: AsyncMemory) -> None:
    await amem.graph.add(user_id="jane", type="text", data="Jane lives in Denver")
    model = RecallingChatModel()
    app = chain(amem, model, lambda session_id: AgentMemoryChatMessageHistory(amem, session_id, user_id="jane"))
    out = await app.ainvoke({"question": "Where do I live?"}, {"configurable": {"session_id": "new-async"}})
    assert "Denver" in out.text


def test_one_argument_factory_without_a_user_says_what_to_pass(mem: Memory) -> None:
    app = chain(mem, RecallingChatModel(), lambda session_id: AgentMemoryChatMessageHistory(mem, session_id))
    with pytest.raises(ConfigError, match=r"AgentMemoryChatMessageHistory\(memory, session_id, user_id="):
        app.invoke({"question": "hi"}, {"configurable": {"session_id": "unknown"}})
    mem.thread.create(thread_id="known", user_id="jane")  # an existing thread names its user
    out = app.invoke({"question": "hi"}, {"configurable": {"session_id": "known"}})
    assert out.text


def test_memory_context_reads_the_agent_server_user(mem: Memory) -> None:
    mem.graph.add(user_id="jane", type="text", data="Jane lives in Denver")
    placed = memory_context(mem).invoke([HumanMessage("Where do I live?")],
                                        {"configurable": {"langgraph_auth_user_id": "jane"}})
    assert any("Denver" in str(m.text) for m in placed)
