"""LlamaIndex integration of agent-memory.

- ``AgentMemory``: a ``BaseMemory`` for chat engines (``SimpleChatEngine``,
  ``CondensePlusContextChatEngine``) and agents (``FunctionAgent``), backed by a thread.
- ``AgentMemoryBlock``: a ``BaseMemoryBlock`` for LlamaIndex's ``Memory``.
- ``create_memory_tools``: ``FunctionTool``s to search memory and to save, update and forget a memory.

Both place the user's context block with ``placement="tool"`` or ``"system"`` and are thin layers
over the public ``agent_memory`` API.
"""

from __future__ import annotations

from .base import AgentMemory, AgentMemoryBlock
from .tools import create_memory_tools

__all__ = ["AgentMemory", "AgentMemoryBlock", "create_memory_tools"]
