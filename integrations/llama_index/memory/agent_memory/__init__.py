"""LlamaIndex integration of agent-memory.

- ``AgentMemory``: a ``BaseMemory`` for chat engines (``SimpleChatEngine``,
  ``CondensePlusContextChatEngine``) and agents (``FunctionAgent``), backed by a thread.
- ``AgentMemoryBlock``: a ``BaseMemoryBlock`` for LlamaIndex's ``Memory``.

Both place the user's context block with ``placement="tool"`` or ``"system"`` and are thin layers
over the public ``agent_memory`` API.
"""

from __future__ import annotations

from .base import AgentMemory, AgentMemoryBlock

__all__ = ["AgentMemory", "AgentMemoryBlock"]
