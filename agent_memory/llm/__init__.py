"""LLM clients: the :class:`LLMClient` protocol, its accounting record, and the OpenAI client.

Importing this package does not import ``openai``; constructing :class:`OpenAILLM` does (and
raises :class:`~agent_memory.errors.MissingDependencyError` when it is missing).
"""

from __future__ import annotations

from .base import CallRecord, LLMClient
from .openai import OpenAILLM

__all__ = ["CallRecord", "LLMClient", "OpenAILLM"]
