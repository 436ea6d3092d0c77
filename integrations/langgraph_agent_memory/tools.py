"""The memory tools for LangGraph agents (``create_agent``, ``ToolNode``): see ``langchain_agent_memory.tools``."""

from __future__ import annotations

from langchain_agent_memory.tools import ManageMemoryTool, SearchMemoryTool, create_memory_tools

__all__ = ["ManageMemoryTool", "SearchMemoryTool", "create_memory_tools"]
