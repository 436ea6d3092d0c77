"""LangGraph integration of agent-memory: a long-term ``BaseStore`` and per-turn memory.

- ``AgentMemoryStore``: a LangGraph ``BaseStore`` whose items live in agent-memory users' graphs,
  searched by hybrid retrieval.
- ``AgentMemoryMiddleware``: ``create_agent`` middleware that injects the context block of the
  run's user and thread (``placement="tool"`` or ``"system"``) and writes each turn back.
- ``create_memory_node``: the same for a hand-written ``StateGraph``.
"""

from __future__ import annotations

from .middleware import AgentMemoryMiddleware, MemoryTurn, create_memory_node
from .store import AgentMemoryStore

__all__ = ["AgentMemoryMiddleware", "AgentMemoryStore", "MemoryTurn", "create_memory_node"]
