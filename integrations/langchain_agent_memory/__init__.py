"""LangChain integration of agent-memory: chat history, retriever and context placement.

- ``AgentMemoryChatMessageHistory`` stores a conversation as a thread (each message becomes an
  episode of the user's temporal graph).
- ``AgentMemoryRetriever`` returns facts, entities and episodes of the graph as ``Document``s.
- ``SearchMemoryTool``/``ManageMemoryTool`` (``create_memory_tools``): tools an agent calls to
  search memory and to save, update and forget a memory of the run's user.
- ``memory_context`` places the user's context block into a prompt (``placement="tool"`` or
  ``"system"``), for ``prompt | memory_context(memory) | model``.

All are thin layers over the public ``agent_memory`` API.
"""

from __future__ import annotations

from .context import memory_context
from .history import AgentMemoryChatMessageHistory
from .messages import place_context, tool_pair
from .retriever import AgentMemoryRetriever
from .tools import ManageMemoryTool, SearchMemoryTool, create_memory_tools

__all__ = [
    "AgentMemoryChatMessageHistory",
    "AgentMemoryRetriever",
    "ManageMemoryTool",
    "SearchMemoryTool",
    "create_memory_tools",
    "memory_context",
    "place_context",
    "tool_pair",
]
