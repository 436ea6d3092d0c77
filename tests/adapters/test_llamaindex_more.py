"""LlamaIndex as its users write it: serialised memories and Contexts, from_defaults arguments, completion LLMs, tools."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.llms.mock import MockFunctionCallingLLM, MockLLM
from llama_index.core.workflow import Context
from llama_index.memory.agent_memory import AgentMemory, create_memory_tools
from workflows.context.serializers import JsonSerializer

from agent_memory import Memory
from agent_memory.errors import ConfigError

SYSTEM = "You are a helpful assistant."


class Scripted:
    """A MockFunctionCallingLLM response generator: tool calls from a script, then the last tool output."""

    def __init__(self, script: list[Any] | None = None) -> None:
        self.script = list(script or [])
        self.calls: list[list[ChatMessage]] = []
        self.outputs: list[str] = []

    def __call__(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        self.calls.append(list(messages))
        if messages and messages[-1].role == MessageRole.TOOL:
            self.outputs.append(messages[-1].content or "")
        if self.script:
            step = self.script.pop(0)
            name, args = step(self.outputs) if callable(step) else step
            return ChatMessage(role="assistant", blocks=[
                ToolCallBlock(tool_call_id=f"call_{len(self.calls)}", tool_name=name, tool_kwargs=args)])
        texts = [m.content or "" for m in messages if m.role in (MessageRole.TOOL, MessageRole.SYSTEM)]
        return ChatMessage(role="assistant", content="Noted. " + " ".join(texts)[-400:])

    def llm(self) -> MockFunctionCallingLLM:
        return MockFunctionCallingLLM(response_generator=self, is_chat_model=True)


def test_to_dict_and_from_dict_reconnect_to_the_memory(mem: Memory) -> None:
    chat_memory = AgentMemory.from_defaults(memory=mem, user_id="jane", thread_id="t1")
    chat_memory.put(ChatMessage(role="user", content="I moved to Denver."))
    data = json.loads(json.dumps(chat_memory.to_dict()))  # plain JSON
    restored = AgentMemory.from_dict(data)
    assert restored.memory is mem and restored.thread_id == "t1"
    assert [m.content for m in restored.get_all()] == ["I moved to Denver."]
    assert AgentMemory.from_dict(data, memory=mem).memory is mem
    with pytest.raises(ConfigError, match="memory=memory"):
        AgentMemory.from_dict({**data, "memory_ref": "gone"})


def test_a_persistent_memory_is_reopened_from_its_home(tmp_path: Path, real_embedder: Any) -> None:
    with Memory(tmp_path / "home", embedder=real_embedder) as memory:
        data = AgentMemory.from_defaults(memory=memory, user_id="jane", thread_id="t1").to_dict()
    reopened = AgentMemory.from_dict({**data, "memory_ref": "another-process"})
    try:
        assert isinstance(reopened.memory, Memory) and str(reopened.memory.config.home) == str(tmp_path / "home")
    finally:
        reopened.memory.close()


async def test_function_agent_context_round_trip(mem: Memory) -> None:
    rec = Scripted()
    agent = FunctionAgent(llm=rec.llm(), tools=[], system_prompt=SYSTEM)
    ctx = Context(agent)
    chat_memory = AgentMemory.from_defaults(memory=mem, user_id="jane", thread_id="t1")
    await agent.run(user_msg="I moved to Denver last week.", memory=chat_memory, ctx=ctx)
    payload = json.dumps(ctx.to_dict(serializer=JsonSerializer()))
    restored = Context.from_dict(agent, json.loads(payload), serializer=JsonSerializer())
    reply = await agent.run(user_msg="Where do I live?", ctx=restored)
    assert "Denver" in str(reply)
    assert [m.content for m in mem.thread.get_messages("t1")][:1] == ["I moved to Denver last week."]


def test_from_defaults_honours_chat_history_and_token_limit(mem: Memory) -> None:
    history = [ChatMessage(role="user", content="I have a dog named Rex."),
               ChatMessage(role="assistant", content="Rex sounds lovely.")]
    chat_memory = AgentMemory.from_defaults(memory=mem, user_id="jane", thread_id="t1", chat_history=history)
    assert [m.content for m in chat_memory.get_all()] == [m.content for m in history]
    assert [m.content for m in mem.thread.get_messages("t1")] == [m.content for m in history]
    long = [ChatMessage(role="user", content=f"message {i} " + "word " * 40) for i in range(20)]
    limited = AgentMemory.from_defaults(memory=mem, user_id="jane", thread_id="t2", token_limit=200,
                                        placement="system")
    limited.set(long)
    got = [m for m in limited.get() if m.role != MessageRole.SYSTEM]
    assert 1 <= len(got) < 20 and got[-1].content == long[-1].content
    with pytest.raises(ValueError, match="chat_store_key"):
        AgentMemory.from_defaults(memory=mem, user_id="jane", thread_id="t3", chat_store_key="x")


def test_a_completion_llm_gets_the_block_as_text(mem: Memory) -> None:
    mem.graph.add(user_id="jane", type="text", data="Jane lives in Denver")
    llm = MockLLM()  # is_chat_model=False: it echoes the prompt it was given
    chat_memory = AgentMemory.from_defaults(memory=mem, user_id="jane", thread_id="t1", llm=llm)
    prompt = str(SimpleChatEngine.from_defaults(llm=llm, memory=chat_memory, system_prompt=SYSTEM)
                 .chat("Where do I live?"))
    assert "Denver" in prompt
    assert "tool_calls" not in prompt and "tool_call_id" not in prompt and "{'" not in prompt


async def test_memory_function_tools_save_search_and_forget(mem: Memory) -> None:
    def forget(outputs: list[str]) -> tuple[str, dict[str, Any]]:
        hit = next(h for h in json.loads(outputs[-1]) if "peanuts" in h["text"])
        return "manage_memory", {"action": "delete", "id": hit["id"]}

    rec = Scripted([("manage_memory", {"content": "Jane is allergic to peanuts", "action": "create"}),
                    ("search_memory", {"query": "allergies"}), forget,
                    ("manage_memory", {"action": "delete", "id": "no-such-id"})])
    agent = FunctionAgent(llm=rec.llm(), tools=create_memory_tools(mem, user_id="jane"), system_prompt=SYSTEM)
    await agent.run(user_msg="Remember my allergy, then forget it.")
    saved, found, forgot, refused = rec.outputs
    assert saved.startswith("Saved memory ") and "peanuts" in found and forgot.startswith("Forgot memory ")
    assert refused.startswith("Error: no memory with id")
    assert not any("peanuts" in f.fact for f in mem.graph.facts(user_id="jane"))
    with pytest.raises(ConfigError, match="user_id"):
        create_memory_tools(mem, user_id="")
