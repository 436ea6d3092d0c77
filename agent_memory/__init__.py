"""agent-memory: persistent, per-user memory for AI agents, kept as a temporal context graph.

Offline by default: SQLite + embedded Chroma, a bundled MiniLM embedder and a spaCy extractor.
"""

from __future__ import annotations

from .client import AsyncMemory, Memory
from .config import MemoryConfig
from .errors import AgentMemoryError
from .models import (
    ContextTemplate,
    Entity,
    Episode,
    EpisodeSource,
    EpisodeStatus,
    Fact,
    LLMUsage,
    Message,
    Observation,
    Role,
    SearchResult,
    SearchScope,
    Thread,
    User,
    UserContext,
)
from .retrieval.search import SearchFilters

__version__ = "0.1.0"

__all__ = [
    "AgentMemoryError",
    "AsyncMemory",
    "ContextTemplate",
    "Entity",
    "Episode",
    "EpisodeSource",
    "EpisodeStatus",
    "Fact",
    "LLMUsage",
    "Memory",
    "MemoryConfig",
    "Message",
    "Observation",
    "Role",
    "SearchFilters",
    "SearchResult",
    "SearchScope",
    "Thread",
    "User",
    "UserContext",
    "__version__",
]
