"""LangChain tools over a user's memory: ``search_memory`` and ``manage_memory`` (LangMem's names and arguments).

The user is the run's (see ``identity.run_identity``: Agent Server's authenticated user, the
``configurable`` user id, or LangChain v1 ``context=``), or a fixed ``user_id``. Works in
``create_agent(tools=...)``, a ``ToolNode`` and plain ``tool.invoke``; sync and async.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent_memory import AsyncMemory, Memory
from agent_memory.agent_tools import (
    MANAGE_MEMORY_DESCRIPTION,
    SEARCH_MEMORY_DESCRIPTION,
    manage_memory,
    search_memory,
)
from agent_memory.bridge import Bridge, Flow
from agent_memory.errors import ConfigError, InvalidInputError

from .identity import run_identity

__all__ = ["ManageMemoryTool", "SearchMemoryTool", "create_memory_tools"]


class SearchMemoryInput(BaseModel):
    """Arguments of ``search_memory``."""

    query: str = Field(description="What to look for, in plain words.")
    limit: int = Field(default=5, ge=1, le=50, description="How many matches to return.")


class ManageMemoryInput(BaseModel):
    """Arguments of ``manage_memory``."""

    content: str | None = Field(default=None, description="The memory's text (for create and update).")
    action: Literal["create", "update", "delete"] = Field(default="create", description="What to do.")
    id: str | None = Field(default=None, description="The memory's id from search_memory (update, delete).")


class _MemoryTool(BaseTool):
    """A tool bound to a Memory; the user comes from the run unless ``user_id`` is fixed."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: Any = Field(exclude=True, description="A Memory or AsyncMemory.")
    user_id: str | None = None
    handle_tool_error: bool = True  # a bad id or argument goes back to the model as text, not a crash

    @field_validator("memory")
    @classmethod
    def _check_memory(cls, value: Any) -> Any:
        if not isinstance(value, (Memory, AsyncMemory)):
            raise ConfigError(f"memory must be an agent_memory Memory or AsyncMemory, got {type(value).__name__}")
        return value

    def _user(self, config: RunnableConfig | None) -> str:
        return run_identity(config, None, self.user_id, who=f"the {self.name} tool")[0]

    def _go(self, flow: Flow[str]) -> str:
        try:
            return Bridge(self.memory).run(flow)
        except InvalidInputError as exc:
            raise ToolException(str(exc)) from exc

    async def _ago(self, flow: Flow[str]) -> str:
        try:
            return await Bridge(self.memory).arun(flow)
        except InvalidInputError as exc:
            raise ToolException(str(exc)) from exc


class SearchMemoryTool(_MemoryTool):
    """``search_memory(query, limit=5)``: the user's best-matching facts and records, with ids and relevance."""

    name: str = "search_memory"
    description: str = SEARCH_MEMORY_DESCRIPTION
    args_schema: type[BaseModel] = SearchMemoryInput

    def _run(self, query: str, limit: int = 5, *, config: RunnableConfig,
             run_manager: CallbackManagerForToolRun | None = None) -> str:
        return self._go(search_memory(self._user(config), query, limit))

    async def _arun(self, query: str, limit: int = 5, *, config: RunnableConfig,
                    run_manager: AsyncCallbackManagerForToolRun | None = None) -> str:
        return await self._ago(search_memory(self._user(config), query, limit))


class ManageMemoryTool(_MemoryTool):
    """``manage_memory(content, action, id)``: save, update (replace) or forget one memory of the user."""

    name: str = "manage_memory"
    description: str = MANAGE_MEMORY_DESCRIPTION
    args_schema: type[BaseModel] = ManageMemoryInput

    def _flow(self, config: RunnableConfig, content: str | None, action: str, id: str | None) -> Flow[str]:  # noqa: A002
        return manage_memory(self._user(config), action, content, id, max_chars=self.memory.config.max_content_chars)

    def _run(self, content: str | None = None, action: str = "create", id: str | None = None, *,  # noqa: A002
             config: RunnableConfig, run_manager: CallbackManagerForToolRun | None = None) -> str:
        return self._go(self._flow(config, content, action, id))

    async def _arun(self, content: str | None = None, action: str = "create", id: str | None = None, *,  # noqa: A002
                    config: RunnableConfig, run_manager: AsyncCallbackManagerForToolRun | None = None) -> str:
        return await self._ago(self._flow(config, content, action, id))


def create_memory_tools(memory: Memory | AsyncMemory, *, user_id: str | None = None,
                        actions: tuple[str, ...] = ("search", "manage")) -> list[BaseTool]:
    """``[search_memory, manage_memory]`` for ``create_agent(tools=...)`` (or a ``ToolNode``).

    ``user_id``: fix the user; by default each call uses the run's user.
    """
    makers = {"search": SearchMemoryTool, "manage": ManageMemoryTool}
    unknown = [a for a in actions if a not in makers]
    if unknown:
        raise ConfigError(f"actions must be among {sorted(makers)}, got {unknown}")
    return [makers[a](memory=memory, user_id=user_id) for a in actions]
