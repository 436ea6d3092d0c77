"""A LangChain chat message history backed by an agent-memory thread."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage

from agent_memory import AsyncMemory, Memory
from agent_memory.bridge import Bridge, Flow, call, ensure_thread
from agent_memory.context.placement import RECALL_TOOL_NAME
from agent_memory.errors import ConfigError, ThreadNotFoundError
from agent_memory.models import Message

from .messages import from_memory_message, to_memory_messages

__all__ = ["AgentMemoryChatMessageHistory"]

_NO_USER = ("thread {thread_id!r} does not exist yet, so AgentMemoryChatMessageHistory cannot tell whose memory it "
            "is: pass user_id=, e.g. lambda session_id: AgentMemoryChatMessageHistory(memory, session_id, "
            "user_id=current_user_id) (the user and thread are then created on first use)")


class AgentMemoryChatMessageHistory(BaseChatMessageHistory):
    """Chat history stored as a thread of an agent-memory user: every message written becomes an episode.

    What the thread learns (facts, entities) stays in the user's graph, so a new thread of the same
    user starts with that memory (see ``AgentMemoryRetriever`` and the context block).

    Setup:
        ``pip install "agent-memory[langchain]"``

    Key init args:
        memory: a ``Memory`` (sync and async methods) or an ``AsyncMemory`` (async methods only).
        thread_id: the thread that holds the conversation.
        user_id: the thread's owner. With it, the user and thread are created on first use (read or
            write); without it, the thread must exist (a ``Memory`` checks at construction and raises
            ``ConfigError`` saying what to pass).
        last: read only the last ``last`` messages (default: all).

    For new code LangChain recommends LangGraph persistence (``RunnableWithMessageHistory`` is
    deprecated in langchain-core 1.8): ``create_agent`` with ``AgentMemoryMiddleware`` and a
    checkpointer. This class serves existing chains.

    Usage:
        .. code-block:: python

            from langchain_core.runnables.history import RunnableWithMessageHistory
            from langchain_agent_memory import AgentMemoryChatMessageHistory

            chain = RunnableWithMessageHistory(
                prompt | model,
                lambda session_id: AgentMemoryChatMessageHistory(memory, session_id, user_id="jane"),
                input_messages_key="question", history_messages_key="history")
            chain.invoke({"question": "I moved to Denver."}, {"configurable": {"session_id": "t1"}})

    Async:
        ``aget_messages``, ``aadd_messages`` and ``aclear`` are native: awaited on an ``AsyncMemory``,
        run in a worker thread on a ``Memory``. ``RunnableWithMessageHistory.ainvoke`` uses them.

    What is stored: human, AI and system messages that have text. Tool traffic (tool calls and
    tool results) and the synthetic context pair of ``placement="tool"`` are never written.
    ``clear()`` deletes the thread and its messages; what the user's graph learned stays.
    """

    def __init__(self, memory: Memory | AsyncMemory, thread_id: str, *, user_id: str | None = None,
                 last: int | None = None, tool_name: str = RECALL_TOOL_NAME) -> None:
        """Bind the history to ``thread_id`` (see the class docstring for the arguments)."""
        self._bridge = Bridge(memory)
        self.memory = memory
        self.thread_id = thread_id
        self.user_id = user_id
        self.last = last
        self.tool_name = tool_name
        if user_id is None and isinstance(memory, Memory):  # say now what to pass, not on the first read
            try:
                memory.thread.get(thread_id)
            except ThreadNotFoundError:
                raise ConfigError(_NO_USER.format(thread_id=thread_id), thread_id=thread_id) from None

    def __repr__(self) -> str:
        return f"AgentMemoryChatMessageHistory(thread_id={self.thread_id!r}, user_id={self.user_id!r})"

    # -- flows (the logic, once) -----------------------------------------------------------------
    def _read(self) -> Flow[list[BaseMessage]]:
        if self.user_id is not None:  # created on first use (so the thread names its user); another user's is refused
            yield from ensure_thread(self.thread_id, self.user_id)
        else:
            try:
                yield from call(lambda api: api.thread.get(self.thread_id))
            except ThreadNotFoundError:
                raise ConfigError(_NO_USER.format(thread_id=self.thread_id), thread_id=self.thread_id) from None
        stored: list[Message] = yield from call(lambda api: api.thread.get_messages(self.thread_id, last=self.last))
        return [from_memory_message(m) for m in stored]

    def _write(self, messages: Sequence[BaseMessage]) -> Flow[None]:
        records = to_memory_messages(messages, tool_name=self.tool_name)
        if not records:
            return
        try:
            yield from ensure_thread(self.thread_id, self.user_id)
        except ThreadNotFoundError:
            raise ConfigError(_NO_USER.format(thread_id=self.thread_id), thread_id=self.thread_id) from None
        yield from call(lambda api: api.thread.add_messages(self.thread_id, messages=records))

    def _clear(self) -> Flow[None]:
        with contextlib.suppress(ThreadNotFoundError):
            yield from call(lambda api: api.thread.delete(self.thread_id))

    # -- BaseChatMessageHistory ------------------------------------------------------------------
    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The thread's messages, oldest first."""
        return self._bridge.run(self._read())

    async def aget_messages(self) -> list[BaseMessage]:
        """The thread's messages, oldest first."""
        return await self._bridge.arun(self._read())

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Write the messages to the thread (one call: all or none), creating it if needed."""
        self._bridge.run(self._write(messages))

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Write the messages to the thread (one call: all or none), creating it if needed."""
        await self._bridge.arun(self._write(messages))

    def clear(self) -> None:
        """Delete the thread's messages (the thread itself is re-created on the next write)."""
        self._bridge.run(self._clear())

    async def aclear(self) -> None:
        """Delete the thread's messages (the thread itself is re-created on the next write)."""
        await self._bridge.arun(self._clear())
