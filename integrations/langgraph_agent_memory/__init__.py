"""LangGraph integration of agent-memory: a long-term ``BaseStore``, per-turn memory, and memory tools.

- ``AgentMemoryStore``: a LangGraph ``BaseStore`` whose items live in agent-memory users' graphs
  (needs ``langgraph`` only).
- ``AgentMemoryMiddleware``: ``create_agent`` middleware that injects the context block of the
  run's user and thread (``placement="tool"`` or ``"system"``) and writes each turn back.
- ``create_memory_node``: the same for a hand-written ``StateGraph``.
- ``create_memory_tools``: tools an agent calls to search, save, update and forget memories.

The middleware, node and tools need ``langchain``; they are imported on first use, so importing
the store never does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .store import AgentMemoryStore

if TYPE_CHECKING:
    from .middleware import AgentMemoryMiddleware, MemoryTurn, create_memory_node
    from .tools import create_memory_tools

__all__ = ["AgentMemoryMiddleware", "AgentMemoryStore", "MemoryTurn", "create_memory_node", "create_memory_tools"]

_LAZY = {"AgentMemoryMiddleware": "middleware", "MemoryTurn": "middleware", "create_memory_node": "middleware",
         "create_memory_tools": "tools"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
