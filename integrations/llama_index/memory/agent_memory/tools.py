"""LlamaIndex ``FunctionTool``s over a user's memory: ``search_memory`` and ``manage_memory``.

The same behaviour as the LangChain tools (``agent_memory.agent_tools``): search returns the best
facts and records with ids and a relevance in [0, 1]; manage saves, updates (replaces) or forgets
one memory. A refused call (bad id, missing content) answers the model with the reason.
"""

from __future__ import annotations

from typing import Literal

from llama_index.core.tools import FunctionTool

from agent_memory import AsyncMemory, Memory
from agent_memory.agent_tools import (
    MANAGE_MEMORY_DESCRIPTION,
    SEARCH_MEMORY_DESCRIPTION,
    manage_memory,
    search_memory,
)
from agent_memory.bridge import Bridge, Flow
from agent_memory.errors import ConfigError, InvalidInputError

__all__ = ["create_memory_tools"]


def create_memory_tools(memory: Memory | AsyncMemory, *, user_id: str) -> list[FunctionTool]:
    """``[search_memory, manage_memory]`` for ``FunctionAgent(tools=...)``, scoped to ``user_id``.

    Sync calls need a ``Memory``; async calls (what ``FunctionAgent`` makes) work on both.
    """
    if not isinstance(user_id, str) or not user_id.strip():
        raise ConfigError("create_memory_tools needs user_id= (whose memory the agent manages)")
    bridge = Bridge(memory)
    limit_chars = memory.config.max_content_chars

    def run(flow: Flow[str]) -> str:
        try:
            return bridge.run(flow)
        except InvalidInputError as exc:
            return f"Error: {exc}"

    async def arun(flow: Flow[str]) -> str:
        try:
            return await bridge.arun(flow)
        except InvalidInputError as exc:
            return f"Error: {exc}"

    def search(query: str, limit: int = 5) -> str:
        """Search the user's long-term memory."""
        return run(search_memory(user_id, query, limit))

    async def asearch(query: str, limit: int = 5) -> str:
        """Search the user's long-term memory."""
        return await arun(search_memory(user_id, query, limit))

    def manage(content: str | None = None, action: Literal["create", "update", "delete"] = "create",
               id: str | None = None) -> str:  # noqa: A002 - LangMem's argument name
        """Save, update or forget a memory."""
        return run(manage_memory(user_id, action, content, id, max_chars=limit_chars))

    async def amanage(content: str | None = None, action: Literal["create", "update", "delete"] = "create",
                      id: str | None = None) -> str:  # noqa: A002
        """Save, update or forget a memory."""
        return await arun(manage_memory(user_id, action, content, id, max_chars=limit_chars))

    return [
        FunctionTool.from_defaults(fn=search, async_fn=asearch, name="search_memory",
                                   description=SEARCH_MEMORY_DESCRIPTION),
        FunctionTool.from_defaults(fn=manage, async_fn=amanage, name="manage_memory",
                                   description=MANAGE_MEMORY_DESCRIPTION),
    ]
