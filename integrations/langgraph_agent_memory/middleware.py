"""Give a LangGraph agent persistent memory: read the context block for the run's user and thread,
inject it (``placement="system"`` or ``"tool"``), and write the turn back.

Two entry points share one implementation (``MemoryTurn``):

- ``AgentMemoryMiddleware`` for ``langchain.agents.create_agent``;
- ``create_memory_node`` for a hand-written ``StateGraph`` over ``MessagesState``.

Who and where: ``user_id`` is Agent Server's authenticated user
(``configurable["langgraph_auth_user_id"]``), else ``config["configurable"]["user_id"]``, else the
run's ``context`` (LangChain v1 ``context=``: an attribute or key ``user_id``), else the adapter's
own ``user_id``; ``thread_id`` from ``configurable["thread_id"]`` (the checkpointer's thread), else
``context``.
The user and the thread are created in agent-memory on first use. Without a thread id the turn
is still remembered, as thread-less message episodes of the user.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from langchain.agents.middleware.types import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain_agent_memory.identity import run_identity
from langchain_agent_memory.messages import place_context, to_memory_messages
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage, BaseMessage, SystemMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.config import get_config
from langgraph.runtime import Runtime

from agent_memory import AsyncMemory, Memory
from agent_memory.bridge import Bridge, Flow, call, ensure_thread, ensure_user
from agent_memory.context.placement import (
    RECALL_TOOL_DESCRIPTION,
    RECALL_TOOL_NAME,
    Placement,
    check_placement,
)
from agent_memory.models import UserContext

__all__ = ["AgentMemoryMiddleware", "MemoryTurn", "create_memory_node"]


def _config() -> RunnableConfig:
    try:
        return get_config()
    except RuntimeError:
        return {}


def _last_human(messages: Sequence[BaseMessage]) -> int:
    return max((i for i, m in enumerate(messages) if m.type == "human"), default=-1)


class MemoryTurn:
    """The framework-facing logic of one turn: identify, read the block, place it, write back.

    Used by ``AgentMemoryMiddleware`` and ``create_memory_node``; usable directly in any node.
    Every method has a sync and an async twin over the same flow.
    """

    def __init__(self, memory: Memory | AsyncMemory, *, placement: Placement = "tool",
                 user_id: str | None = None, template_id: str | None = None, token_budget: int | None = None,
                 write_back: bool = True, tool_name: str = RECALL_TOOL_NAME) -> None:
        """See ``AgentMemoryMiddleware`` for the arguments."""
        self.bridge = Bridge(memory)
        self.memory = memory
        self.placement: Placement = check_placement(placement)
        self.user_id = user_id
        self.template_id = template_id
        self.token_budget = token_budget
        self.write_back = write_back
        self.tool_name = tool_name

    # -- identity ---------------------------------------------------------------------------------
    def identity(self, config: RunnableConfig | None = None, context: Any = None) -> tuple[str, str | None]:
        """``(user_id, thread_id)`` of the run (see ``langchain_agent_memory.identity.run_identity``)."""
        return run_identity(config if config is not None else _config(), context, self.user_id,
                            who="the memory middleware/node")

    # -- flows ----------------------------------------------------------------------------------
    def _context(self, user_id: str, thread_id: str | None, query: str) -> Flow[UserContext]:
        if thread_id is not None:
            yield from ensure_thread(thread_id, user_id)
            return (yield from call(lambda api: api.thread.get_user_context(thread_id, template_id=self.template_id,
                                    token_budget=self.token_budget)))
        yield from ensure_user(user_id)
        return (yield from call(lambda api: api.context.get(user_id=user_id, query=query, template_id=self.template_id,
                                token_budget=self.token_budget)))

    def _write(self, user_id: str, thread_id: str | None, messages: Sequence[BaseMessage]) -> Flow[None]:
        records = to_memory_messages(messages, tool_name=self.tool_name)
        if not self.write_back or not records:
            return
        if thread_id is not None:
            yield from ensure_thread(thread_id, user_id)
            yield from call(lambda api: api.thread.add_messages(thread_id, messages=records))
            return
        yield from ensure_user(user_id)
        for m in records:
            yield from call(lambda api: api.graph.add(user_id=user_id, type="message", data=m.content,
                            role=m.role.value, name=m.name, created_at=m.created_at, metadata=m.metadata))

    @staticmethod
    def new_input(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
        """The turn's new user input: the human messages after the last non-human message."""
        out: list[BaseMessage] = []
        for m in reversed(messages):
            if m.type != "human":
                break
            out.append(m)
        return out[::-1]

    @staticmethod
    def turn_output(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
        """What the agent said this turn: the messages after the last human message."""
        return list(messages[_last_human(messages) + 1:])

    def _place(self, messages: Sequence[BaseMessage], system: SystemMessage | None, context: str,
               query: str) -> tuple[SystemMessage | None, list[BaseMessage]]:
        return place_context(messages, system, context, placement=self.placement, query=query,
                             tool_name=self.tool_name)

    @staticmethod
    def _query(messages: Sequence[BaseMessage]) -> str:
        i = _last_human(messages)
        return str(messages[i].text) if i >= 0 else ""

    # -- public twins ---------------------------------------------------------------------------
    def remember(self, messages: Sequence[BaseMessage], *, config: RunnableConfig | None = None,
                 context: Any = None) -> None:
        """Write ``messages`` (those worth remembering) to the run's thread."""
        user_id, thread_id = self.identity(config, context)
        self.bridge.run(self._write(user_id, thread_id, messages))

    async def aremember(self, messages: Sequence[BaseMessage], *, config: RunnableConfig | None = None,
                        context: Any = None) -> None:
        """Write ``messages`` (those worth remembering) to the run's thread."""
        user_id, thread_id = self.identity(config, context)
        await self.bridge.arun(self._write(user_id, thread_id, messages))

    def prepare(self, messages: Sequence[BaseMessage], system: SystemMessage | None, *,
                config: RunnableConfig | None = None, context: Any = None
                ) -> tuple[SystemMessage | None, list[BaseMessage]]:
        """The system message and conversation for the model, with the context block placed."""
        user_id, thread_id = self.identity(config, context)
        query = self._query(messages)
        block = self.bridge.run(self._context(user_id, thread_id, query))
        return self._place(messages, system, block.context, query)

    async def aprepare(self, messages: Sequence[BaseMessage], system: SystemMessage | None, *,
                       config: RunnableConfig | None = None, context: Any = None
                       ) -> tuple[SystemMessage | None, list[BaseMessage]]:
        """The system message and conversation for the model, with the context block placed."""
        user_id, thread_id = self.identity(config, context)
        query = self._query(messages)
        block = await self.bridge.arun(self._context(user_id, thread_id, query))
        return self._place(messages, system, block.context, query)

    def recall_tool(self) -> BaseTool:
        """A real ``recall_memory`` tool for the model to call itself (declared so ``tools=`` is static).

        Its user is the run's: Agent Server's authenticated user, ``configurable["user_id"]``, or the
        ``context=`` of ``create_agent`` (read from the run's config, which LangGraph passes to tools).
        """

        def _flow(query: str, config: RunnableConfig | None) -> Flow[str]:
            user_id, _ = self.identity(config)
            yield from ensure_user(user_id)
            found: UserContext = yield from call(lambda api: api.context.get(user_id=user_id, query=query,
                                                 template_id=self.template_id, token_budget=self.token_budget))
            return found.context

        def recall(query: str = "", config: RunnableConfig = None) -> str:  # type: ignore[assignment]
            return self.bridge.run(_flow(query, config))

        async def arecall(query: str = "", config: RunnableConfig = None) -> str:  # type: ignore[assignment]
            return await self.bridge.arun(_flow(query, config))

        return StructuredTool.from_function(func=recall, coroutine=arecall, name=self.tool_name,
                                            description=RECALL_TOOL_DESCRIPTION)


class AgentMemoryMiddleware(AgentMiddleware):  # type: ignore[type-arg]
    """``create_agent`` middleware: the user's context block on every model call, the turn written back.

    Setup:
        ``pip install "agent-memory[langgraph]"``

    Key init args:
        memory: a ``Memory`` (``invoke`` and ``ainvoke``) or an ``AsyncMemory`` (``ainvoke`` only).
        placement: ``"tool"`` (default): the system prompt stays byte-identical across turns and a
            synthetic ``recall_memory`` tool call and its answer, carrying the block, follow the last
            human message in the request only (never in the agent state, never written back).
            ``"system"``: the block is appended to the system message of the request.
        user_id: fallback when neither the config nor the context names one.
        template_id, token_budget: passed to ``thread.get_user_context``.
        write_back: write the human input (before the agent runs) and the agent's answer (after) to
            the thread; default True.
        declare_tool: with ``placement="tool"``, also register a real ``recall_memory`` tool, so the
            ``tools=`` list stays static and the model may recall on its own; default True.

    Usage:
        .. code-block:: python

            agent = create_agent(model, tools=[...], system_prompt="You are helpful.",
                                 middleware=[AgentMemoryMiddleware(memory)], checkpointer=InMemorySaver())
            agent.invoke({"messages": [HumanMessage("I moved to Denver")]},
                         {"configurable": {"user_id": "jane", "thread_id": "t1"}})

    Async:
        Every hook has an async twin, so ``ainvoke``/``astream`` work.
    """

    def __init__(self, memory: Memory | AsyncMemory, *, placement: Placement = "tool",
                 user_id: str | None = None, template_id: str | None = None, token_budget: int | None = None,
                 write_back: bool = True, declare_tool: bool = True,
                 tool_name: str = RECALL_TOOL_NAME) -> None:
        """See the class docstring for the arguments."""
        super().__init__()
        self.turn = MemoryTurn(memory, placement=placement, user_id=user_id, template_id=template_id,
                               token_budget=token_budget, write_back=write_back, tool_name=tool_name)
        self.tools = [self.turn.recall_tool()] if placement == "tool" and declare_tool else []

    @property
    def name(self) -> str:
        """The middleware's node-name prefix."""
        return "AgentMemoryMiddleware"

    def before_agent(self, state: AgentState, runtime: Runtime[Any]) -> dict[str, Any] | None:  # type: ignore[type-arg]
        """Write the turn's human input to the thread, so the block's query includes it."""
        self.turn.remember(self.turn.new_input(state["messages"]), context=runtime.context)
        return None

    async def abefore_agent(self, state: AgentState, runtime: Runtime[Any]) -> dict[str, Any] | None:  # type: ignore[type-arg]
        """Write the turn's human input to the thread, so the block's query includes it."""
        await self.turn.aremember(self.turn.new_input(state["messages"]), context=runtime.context)
        return None

    def after_agent(self, state: AgentState, runtime: Runtime[Any]) -> dict[str, Any] | None:  # type: ignore[type-arg]
        """Write what the agent said this turn (text only) to the thread."""
        self.turn.remember(self.turn.turn_output(state["messages"]), context=runtime.context)
        return None

    async def aafter_agent(self, state: AgentState, runtime: Runtime[Any]) -> dict[str, Any] | None:  # type: ignore[type-arg]
        """Write what the agent said this turn (text only) to the thread."""
        await self.turn.aremember(self.turn.turn_output(state["messages"]), context=runtime.context)
        return None

    def wrap_model_call(self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
                        ) -> ModelResponse:
        """Call the model with the context block placed in this request only."""
        system, messages = self.turn.prepare(request.messages, request.system_message,
                                             context=request.runtime.context)
        return handler(request.override(system_message=system, messages=cast("list[AnyMessage]", messages)))

    async def awrap_model_call(self, request: ModelRequest,
                               handler: Callable[[ModelRequest], Awaitable[ModelResponse]]) -> ModelResponse:
        """Call the model with the context block placed in this request only."""
        system, messages = await self.turn.aprepare(request.messages, request.system_message,
                                                    context=request.runtime.context)
        return await handler(request.override(system_message=system,
                                             messages=cast("list[AnyMessage]", messages)))


def create_memory_node(model: BaseChatModel, memory: Memory | AsyncMemory, *,
                       system_prompt: str | None = None, placement: Placement = "tool",
                       user_id: str | None = None, template_id: str | None = None,
                       token_budget: int | None = None, write_back: bool = True,
                       tool_name: str = RECALL_TOOL_NAME) -> RunnableLambda:  # type: ignore[type-arg]
    """A ``StateGraph`` node over ``MessagesState`` that answers with the user's memory in context.

    The node reads ``user_id``/``thread_id`` from the run's config, writes the new human input,
    calls ``model`` with the context block placed (``"tool"``: after the last human message, the
    system prompt unchanged; ``"system"``: appended to ``system_prompt``), writes the reply and
    returns ``{"messages": [reply]}``. Works with ``invoke`` and ``ainvoke``::

        builder = StateGraph(MessagesState)
        builder.add_node("agent", create_memory_node(model, memory, system_prompt="You are helpful."))
        builder.add_edge(START, "agent"); builder.add_edge("agent", END)
        graph = builder.compile(checkpointer=InMemorySaver())
    """
    turn = MemoryTurn(memory, placement=placement, user_id=user_id, template_id=template_id,
                      token_budget=token_budget, write_back=write_back, tool_name=tool_name)
    system = SystemMessage(system_prompt) if system_prompt is not None else None

    def node(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        messages = list(state["messages"])
        turn.remember(turn.new_input(messages), config=config)
        sys_msg, placed = turn.prepare(messages, system, config=config)
        reply = model.invoke([*([sys_msg] if sys_msg else []), *placed], config)
        turn.remember([reply], config=config)
        return {"messages": [reply]}

    async def anode(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        messages = list(state["messages"])
        await turn.aremember(turn.new_input(messages), config=config)
        sys_msg, placed = await turn.aprepare(messages, system, config=config)
        reply = await model.ainvoke([*([sys_msg] if sys_msg else []), *placed], config)
        await turn.aremember([reply], config=config)
        return {"messages": [reply]}

    return RunnableLambda(node, afunc=anode, name="agent_memory")

