"""A LangChain runnable that places the user's context block into a prompt, between prompt and model."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, SystemMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import RunnableConfig, RunnableLambda

from agent_memory import AsyncMemory, Memory
from agent_memory.bridge import Bridge, Flow, call, ensure_user
from agent_memory.context.placement import RECALL_TOOL_NAME, Placement, check_placement
from agent_memory.errors import ConfigError, ThreadNotFoundError
from agent_memory.models import Thread, UserContext

from .identity import AUTH_USER_KEY, run_identity
from .messages import place_context

__all__ = ["memory_context"]


def _messages(value: PromptValue | Sequence[BaseMessage]) -> list[BaseMessage]:
    if isinstance(value, PromptValue):
        return value.to_messages()
    if isinstance(value, Sequence) and all(isinstance(m, BaseMessage) for m in value):
        return list(value)
    raise TypeError(f"memory_context takes a prompt value or a list of messages, got {type(value).__name__}")


def memory_context(memory: Memory | AsyncMemory, *, placement: Placement = "tool",
                   user_id: str | None = None, query_messages: int = 3, template_id: str | None = None,
                   token_budget: int | None = None,
                   tool_name: str = RECALL_TOOL_NAME) -> RunnableLambda:  # type: ignore[type-arg]
    """A runnable for ``prompt | memory_context(memory) | model``: the prompt with the block placed.

    Who: ``user_id`` here, else ``config["configurable"]["user_id"]`` (or Agent Server's
    ``langgraph_auth_user_id``), else the owner of the thread named by ``configurable["thread_id"]``
    or ``["session_id"]``. With ``RunnableWithMessageHistory`` and a history factory that passes
    ``user_id=``, the history creates the thread when it is first read, so the first turn of a
    new session works too. The query is the last ``query_messages`` messages of the prompt, so it includes the
    question being asked even before the history stores it.

    ``placement="tool"`` (default): the leading system message is passed through unchanged (the
    same object: byte-identical every turn) and a synthetic ``recall_memory`` tool call and its
    tool message follow the last human message. ``"system"``: the block is appended to the
    leading system message (one is created if there is none). The output is only sent to the
    model; ``AgentMemoryChatMessageHistory`` never stores the pair.

    Works with ``invoke`` and ``ainvoke`` (a ``Memory`` serves both; an ``AsyncMemory`` only ``ainvoke``).
    """
    check_placement(placement)
    bridge = Bridge(memory)

    def _flow(messages: list[BaseMessage], config: RunnableConfig) -> Flow[list[BaseMessage]]:
        configurable = config.get("configurable") or {}
        owner: str | None = user_id
        if owner is None and (configurable.get("user_id") or configurable.get(AUTH_USER_KEY)):
            owner = run_identity(config, None, None, who="memory_context")[0]
        thread_id = configurable.get("thread_id") or configurable.get("session_id")
        if not owner and thread_id:
            try:
                thread: Thread = yield from call(lambda api: api.thread.get(str(thread_id)))
                owner = thread.user_id
            except ThreadNotFoundError:
                pass
        if not owner:
            raise ConfigError(
                "memory_context needs a user: pass memory_context(memory, user_id=...), or "
                "config={'configurable': {'user_id': ...}}, or the thread_id/session_id of an existing thread "
                "(AgentMemoryChatMessageHistory(memory, session_id, user_id=...) creates it on the first turn)")
        texts = [str(m.text) for m in messages if m.type in ("human", "ai") and str(m.text).strip()]
        query = "\n".join(reversed(texts[-query_messages:]))
        yield from ensure_user(str(owner))
        block: UserContext = yield from call(lambda api: api.context.get(user_id=str(owner), query=query,
                                             template_id=template_id, token_budget=token_budget))
        system = messages[0] if messages and isinstance(messages[0], SystemMessage) else None
        rest = messages[1:] if system is not None else messages
        last_human = next((str(m.text) for m in reversed(rest) if m.type == "human"), "")
        new_system, placed = place_context(rest, system, block.context, placement=placement,
                                           query=last_human, tool_name=tool_name)
        return [new_system, *placed] if new_system is not None else placed

    def place(value: PromptValue | Sequence[BaseMessage], config: RunnableConfig) -> list[BaseMessage]:
        return bridge.run(_flow(_messages(value), config))

    async def aplace(value: PromptValue | Sequence[BaseMessage], config: RunnableConfig) -> list[BaseMessage]:
        return await bridge.arun(_flow(_messages(value), config))

    return RunnableLambda(place, afunc=aplace, name="memory_context")

