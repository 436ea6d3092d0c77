"""LlamaIndex memory backed by agent-memory: a ``BaseMemory`` and a ``BaseMemoryBlock``."""

from __future__ import annotations

import contextlib
import uuid
import weakref
from collections.abc import Sequence
from typing import Any, Literal

from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.memory import BaseMemory
from llama_index.core.memory.memory import BaseMemoryBlock
from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from agent_memory import AsyncMemory, Memory
from agent_memory.bridge import Bridge, Flow, call, ensure_thread, ensure_user
from agent_memory.context.placement import RECALL_TOOL_NAME, check_placement, system_with_context
from agent_memory.context.tokens import count_tokens
from agent_memory.errors import ConfigError, ThreadNotFoundError
from agent_memory.models import Message, UserContext

from .messages import from_memory_message, insert_pair, text_of, to_memory_messages, tool_pair

__all__ = ["AgentMemory", "AgentMemoryBlock"]


def _require_memory(value: Any) -> Any:
    if not isinstance(value, (Memory, AsyncMemory)):
        raise ConfigError(f"memory must be an agent_memory Memory or AsyncMemory, got {type(value).__name__}")
    return value


def _last_user_text(messages: Sequence[ChatMessage]) -> str | None:
    for m in reversed(messages):
        if m.role == MessageRole.USER:
            return text_of(m)
    return None


_LIVE: weakref.WeakValueDictionary[str, Memory | AsyncMemory] = weakref.WeakValueDictionary()
_REFS: weakref.WeakKeyDictionary[Memory | AsyncMemory, str] = weakref.WeakKeyDictionary()


def _ref(memory: Memory | AsyncMemory) -> str:
    """A handle for a live memory, so a serialised ``AgentMemory`` finds it again in this process."""
    ref = _REFS.get(memory)
    if ref is None:
        ref = _REFS[memory] = uuid.uuid4().hex
        _LIVE[ref] = memory
    return ref


def _resolve(data: dict[str, Any]) -> Memory | AsyncMemory:
    """The memory a serialised ``AgentMemory`` used: the live one in this process, else reopened at its home."""
    live = _LIVE.get(str(data.get("memory_ref") or ""))
    if live is not None:
        return live
    home = data.get("memory_home")
    if home:
        return AsyncMemory(home) if data.get("memory_async") else Memory(home)
    raise ConfigError("this AgentMemory was serialised from an in-memory (ephemeral) Memory that no longer "
                      "exists; pass it again: AgentMemory.from_dict(data, memory=memory)")


class AgentMemory(BaseMemory):
    """Chat memory for LlamaIndex chat engines and agents, backed by an agent-memory thread.

    Every user and assistant message put here is written to the thread (so it becomes part of
    the user's temporal graph), and every ``get`` returns the conversation with the user's
    context block placed: ``"tool"`` (default) adds a synthetic ``recall_memory`` tool call and
    its tool message after the latest user message, so the engine's or agent's system prompt
    stays byte-identical; ``"system"`` puts the block in a system message at the front.
    The pair is built per ``get`` and never stored.

    Setup:
        ``pip install "agent-memory[llamaindex]"``

    Key init args:
        memory: a ``Memory`` (sync and async methods) or an ``AsyncMemory`` (async methods only).
        user_id: the user whose memory this is (created on first write if missing).
        thread_id: the conversation (created on first write if missing; resumed if it exists).
        placement: ``"tool"`` or ``"system"``.
        history_limit: how many recent messages of the thread to send (default 40).
        template_id, token_budget: passed to the context block.

        chat_history: messages to start the session with (written to the thread on first use).
        token_limit: send at most this many tokens of recent history (oldest dropped first).
        llm: the LLM the memory feeds (as ``ChatMemoryBuffer.from_defaults`` takes it): a
            completion-style LLM (``metadata.is_chat_model=False``) gets the block as system text,
            never a tool pair rendered as Python dicts.

    Serialisation: ``to_dict`` keeps a handle to the ``Memory`` (and its home directory), so
    ``from_dict`` (and a ``FunctionAgent`` ``Context`` round trip) reconnects to the live memory in
    this process, or reopens a persistent one elsewhere; pass ``memory=`` to ``from_dict`` to choose.
    Unknown arguments are refused, never ignored.

    Usage:
        .. code-block:: python

            from llama_index.core.chat_engine import SimpleChatEngine
            from llama_index.memory.agent_memory import AgentMemory

            chat_memory = AgentMemory.from_defaults(memory=memory, user_id="jane", thread_id="t1")
            engine = SimpleChatEngine.from_defaults(llm=llm, memory=chat_memory, system_prompt="...")
            engine.chat("I moved to Denver.")

    Async:
        ``aget``, ``aput``, ``aput_messages``, ``aset``, ``areset`` are native (``FunctionAgent`` uses
        them): awaited on an ``AsyncMemory``, in a worker thread on a ``Memory``.

    The current session's messages (including tool calls of an agent, which the core does not
    store) are kept in a window in this object; a new ``AgentMemory`` on an existing thread starts
    from the thread's stored messages. ``set`` replaces that window without writing; ``reset``
    empties it and deletes the thread's messages (what the graph learned stays).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    memory: Any = Field(exclude=True, description="A Memory or AsyncMemory.")
    user_id: str
    thread_id: str
    placement: Literal["system", "tool"] = "tool"
    history_limit: int = Field(default=40, ge=1)
    token_limit: int | None = Field(default=None, ge=1)
    template_id: str | None = None
    token_budget: int | None = None
    tool_name: str = RECALL_TOOL_NAME
    llm: Any = Field(default=None, exclude=True, description="The LLM fed (for is_chat_model).")
    memory_ref: str | None = Field(default=None, description="Handle of the live Memory (set automatically).")
    memory_home: str | None = Field(default=None, description="The Memory's home directory (set automatically).")
    memory_async: bool = False

    _window: list[ChatMessage] | None = PrivateAttr(default=None)
    _seed: list[ChatMessage] = PrivateAttr(default_factory=list)
    _synthetic_ids: set[str] = PrivateAttr(default_factory=set)

    @model_validator(mode="after")
    def _remember_handle(self) -> AgentMemory:
        self.memory_ref = _ref(self.memory)
        home = self.memory.config.home
        self.memory_home = str(home) if home is not None else None
        self.memory_async = isinstance(self.memory, AsyncMemory)
        return self

    @field_validator("memory")
    @classmethod
    def _check_memory(cls, value: Any) -> Any:
        return _require_memory(value)

    @field_validator("placement")
    @classmethod
    def _check_placement(cls, value: str) -> str:
        return check_placement(value)

    @classmethod
    def class_name(cls) -> str:
        """The LlamaIndex component name."""
        return "AgentMemory"

    @classmethod
    def from_defaults(cls, memory: Memory | AsyncMemory | None = None, user_id: str | None = None,  # type: ignore[override]
                      thread_id: str | None = None, *, chat_history: list[ChatMessage] | None = None,
                      **kwargs: Any) -> AgentMemory:
        """Construct (``memory``, ``user_id`` and ``thread_id`` are required; ``chat_history`` seeds the session)."""
        if memory is None or user_id is None or thread_id is None:
            raise TypeError("AgentMemory.from_defaults needs memory=, user_id= and thread_id=")
        made = cls(memory=memory, user_id=user_id, thread_id=thread_id, **kwargs)
        made._seed = list(chat_history or [])
        return made

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any) -> AgentMemory:  # type: ignore[override]
        """Rebuild from ``to_dict``: reconnects to the same ``Memory`` unless ``memory=`` is given."""
        data = {k: v for k, v in {**data, **kwargs}.items() if k != "class_name"}
        if data.get("memory") is None:
            data["memory"] = _resolve(data)
        for key in ("memory_ref", "memory_home", "memory_async"):
            data.pop(key, None)
        return cls(**data)

    def _placement(self) -> str:
        metadata = getattr(self.llm, "metadata", None)
        if metadata is not None and getattr(metadata, "is_chat_model", True) is False:
            return "system"  # a completion model reads the prompt as text: no tool pair
        return self.placement

    @property
    def _bridge(self) -> Bridge:
        return Bridge(self.memory)

    # -- flows ----------------------------------------------------------------------------------
    def _load(self) -> Flow[list[ChatMessage]]:
        if self._window is None:
            stored: list[Message] = []
            try:
                yield from ensure_thread(self.thread_id, self.user_id, create=False)  # refuses another user's
                stored = yield from call(lambda api: api.thread.get_messages(self.thread_id, last=self.history_limit))
            except ThreadNotFoundError:
                pass
            if self._window is None:
                self._window = [from_memory_message(m) for m in stored]
        if self._seed:
            seed, self._seed = self._seed, []
            self._window.extend(seed)
            yield from self._write(seed)
        return self._window

    def _write(self, messages: Sequence[ChatMessage]) -> Flow[None]:
        records = to_memory_messages(messages, skip_call_ids=self._synthetic_ids)
        if records:
            yield from ensure_thread(self.thread_id, self.user_id)
            yield from call(lambda api: api.thread.add_messages(self.thread_id, messages=records))

    def _put(self, messages: Sequence[ChatMessage]) -> Flow[None]:
        window = yield from self._load()
        window.extend(messages)
        yield from self._write(messages)

    def _recent(self, window: list[ChatMessage]) -> list[ChatMessage]:
        recent = window[-self.history_limit:]
        if self.token_limit is not None:
            total, keep = 0, 0
            for m in reversed(recent):
                total += count_tokens(text_of(m)) + 4  # ~4 tokens of per-message framing
                if total > self.token_limit and keep:
                    break
                keep += 1
            recent = recent[len(recent) - keep:]
        while recent and recent[0].role == MessageRole.TOOL:  # never start with an unanswered tool message
            recent = recent[1:]
        return recent

    def _get(self, input: str | None) -> Flow[list[ChatMessage]]:  # noqa: A002
        window = yield from self._load()
        recent = self._recent(window)
        last_user = _last_user_text(recent)
        pending = input is not None and input != last_user  # the engine has not put the input yet
        block: UserContext
        if pending or last_user is None:
            yield from ensure_user(self.user_id)
            block = yield from call(lambda api: api.context.get(user_id=self.user_id, query=input or "",
                                    template_id=self.template_id, token_budget=self.token_budget))
        else:
            try:
                block = yield from call(lambda api: api.thread.get_user_context(self.thread_id,
                                        template_id=self.template_id, token_budget=self.token_budget))
            except ThreadNotFoundError:
                yield from ensure_user(self.user_id)
                block = yield from call(lambda api: api.context.get(user_id=self.user_id, query=last_user,
                                        template_id=self.template_id, token_budget=self.token_budget))
        if not block.context:
            return recent
        if self._placement() == "system":
            system = ChatMessage(role=MessageRole.SYSTEM, content=system_with_context(None, block.context))
            return [system, *recent]
        query = (input if pending else last_user) or ""
        pair = tool_pair(block.context, query=query, tool_name=self.tool_name)
        self._synthetic_ids.add(pair[1].additional_kwargs["tool_call_id"])
        return insert_pair(recent, pair, at_end=pending)

    def _reset(self) -> Flow[None]:
        self._window = []
        with contextlib.suppress(ThreadNotFoundError):
            yield from call(lambda api: api.thread.delete(self.thread_id))

    # -- BaseMemory -----------------------------------------------------------------------------
    def get(self, input: str | None = None, **kwargs: Any) -> list[ChatMessage]:  # noqa: A002
        """The recent conversation with the context block placed (``input``: a message not put yet)."""
        return self._bridge.run(self._get(input))

    async def aget(self, input: str | None = None, **kwargs: Any) -> list[ChatMessage]:  # noqa: A002
        """The recent conversation with the context block placed (``input``: a message not put yet)."""
        return await self._bridge.arun(self._get(input))

    def get_all(self) -> list[ChatMessage]:
        """The session's messages, without the context block."""
        return list(self._bridge.run(self._load()))

    async def aget_all(self) -> list[ChatMessage]:
        """The session's messages, without the context block."""
        return list(await self._bridge.arun(self._load()))

    def put(self, message: ChatMessage) -> None:
        """Add a message to the session and write it to the thread if it has text worth keeping."""
        self._bridge.run(self._put([message]))

    async def aput(self, message: ChatMessage) -> None:
        """Add a message to the session and write it to the thread if it has text worth keeping."""
        await self._bridge.arun(self._put([message]))

    def put_messages(self, messages: list[ChatMessage]) -> None:
        """Add messages (one write to the thread)."""
        self._bridge.run(self._put(messages))

    async def aput_messages(self, messages: list[ChatMessage]) -> None:
        """Add messages (one write to the thread)."""
        await self._bridge.arun(self._put(messages))

    def set(self, messages: list[ChatMessage]) -> None:
        """Replace the session window (nothing is written to the thread)."""
        self._window = list(messages)

    async def aset(self, messages: list[ChatMessage]) -> None:
        """Replace the session window (nothing is written to the thread)."""
        self._window = list(messages)

    def reset(self) -> None:
        """Empty the window and delete the thread's messages; the user's graph keeps what it learned."""
        self._bridge.run(self._reset())

    async def areset(self) -> None:
        """Empty the window and delete the thread's messages; the user's graph keeps what it learned."""
        await self._bridge.arun(self._reset())


class AgentMemoryBlock(BaseMemoryBlock[str | list[ChatMessage]]):  # type: ignore[type-var]  # str or messages
    """A memory block for LlamaIndex ``Memory``: the user's context block, and flushed messages written back.

    Setup:
        ``pip install "agent-memory[llamaindex]"``

    Key init args:
        memory: a ``Memory`` or ``AsyncMemory`` (blocks are async; a ``Memory`` runs in a worker thread).
        user_id: whose memory this is (created on first use if missing).
        thread_id: where flushed messages are written; default: the ``Memory``'s ``session_id``.
        placement: ``"system"`` (default) returns the block as text, which ``Memory`` inserts by its
            ``insert_method``: with ``InsertMethod.USER`` it joins the latest user message, so the
            system prompt *and* the cached history stay byte-identical (the most cache-friendly
            option ``Memory`` offers). ``"tool"`` returns a synthetic ``recall_memory`` tool call
            and its tool message, which ``Memory`` puts *before* the chat history (the only place
            it puts block messages): the system prompt stays byte-identical and the sequence is
            valid for OpenAI-style APIs, but the history after the pair is no longer a cached
            prefix. For the pair after the latest user message, use ``AgentMemory``.

    Usage:
        .. code-block:: python

            from llama_index.core.memory import InsertMethod, Memory as LlamaMemory
            from llama_index.memory.agent_memory import AgentMemoryBlock

            chat_memory = LlamaMemory.from_defaults(
                session_id="t1", insert_method=InsertMethod.USER,
                memory_blocks=[AgentMemoryBlock(memory=memory, user_id="jane")])

    The query is the last few messages of the chat history. What the block *writes* is what
    ``Memory`` flushes to it (LlamaIndex's contract: blocks receive messages as they leave the
    short-term FIFO); for every message written as it is said, use ``AgentMemory`` instead.
    """

    name: str = "agent_memory"
    description: str | None = "The user's long-term memory: dated facts, entities, past conversations."
    memory: Any = Field(exclude=True, description="A Memory or AsyncMemory.")
    user_id: str
    thread_id: str | None = None
    placement: Literal["system", "tool"] = "system"
    query_messages: int = Field(default=3, ge=1)
    template_id: str | None = None
    token_budget: int | None = None
    tool_name: str = RECALL_TOOL_NAME

    @field_validator("memory")
    @classmethod
    def _check_memory(cls, value: Any) -> Any:
        return _require_memory(value)

    @field_validator("placement")
    @classmethod
    def _check_placement(cls, value: str) -> str:
        return check_placement(value)

    def _context(self, query: str) -> Flow[str]:
        yield from ensure_user(self.user_id)
        block: UserContext = yield from call(lambda api: api.context.get(user_id=self.user_id, query=query,
                                             template_id=self.template_id, token_budget=self.token_budget))
        return block.context

    def _write(self, thread_id: str, messages: Sequence[ChatMessage]) -> Flow[None]:
        records = to_memory_messages(messages)
        if records:
            yield from ensure_thread(thread_id, self.user_id)
            yield from call(lambda api: api.thread.add_messages(thread_id, messages=records))

    async def _aget(self, messages: list[ChatMessage] | None = None,
                    **block_kwargs: Any) -> str | list[ChatMessage]:
        texts = [text_of(m) for m in (messages or []) if m.role != MessageRole.TOOL and text_of(m).strip()]
        query = "\n".join(reversed(texts[-self.query_messages:]))
        context = await Bridge(self.memory).arun(self._context(query))
        if self.placement == "system" or not context:
            return context
        last = _last_user_text(messages or []) or ""
        return tool_pair(context, query=last, tool_name=self.tool_name)

    async def _aput(self, messages: list[ChatMessage]) -> None:
        if not messages:
            return
        thread_id = self.thread_id or messages[0].additional_kwargs.get("session_id")
        if not thread_id:
            thread_id = f"llamaindex-{self.user_id}"
        await Bridge(self.memory).arun(self._write(str(thread_id), messages))
