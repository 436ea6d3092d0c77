"""The public surface is pinned: changing it is a decision, not an accident."""

from __future__ import annotations

import agent_memory
from agent_memory import errors


def test_top_level_exports() -> None:
    assert set(agent_memory.__all__) == {
        "AgentMemoryError", "AsyncMemory", "ContextTemplate", "Entity", "Episode", "EpisodeSource",
        "EpisodeStatus", "Fact", "LLMUsage", "Memory", "MemoryConfig", "Message", "Observation", "Role",
        "SearchFilters", "SearchResult", "SearchScope", "Thread", "User", "UserContext", "__version__",
    }
    for name in agent_memory.__all__:
        assert hasattr(agent_memory, name)


def test_every_error_derives_from_the_root() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.AgentMemoryError)


def test_importing_the_core_loads_no_framework_or_model() -> None:
    import subprocess
    import sys

    code = ("import sys, agent_memory; bad = [m for m in ('langchain_core', 'langgraph', 'llama_index', 'openai',"
            " 'spacy', 'onnxruntime', 'chromadb', 'torch') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
