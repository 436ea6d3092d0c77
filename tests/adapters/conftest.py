"""Fixtures for the adapter tests: ephemeral memories on the real default models, loaded once.

``real_embedder`` (MiniLM) and ``real_extractor`` (spaCy) are the session fixtures of
``tests/conftest.py``; every memory here is ``Memory.ephemeral`` (in-memory SQLite, exact index).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from agent_memory import AsyncMemory, Memory
from agent_memory.context.placement import check_openai_order


@pytest.fixture
def mem(real_embedder: Any, real_extractor: Any) -> Iterator[Memory]:
    """An empty ephemeral Memory with user ``jane`` (Jane Smith)."""
    with Memory.ephemeral(embedder=real_embedder, extractor=real_extractor) as memory:
        memory.user.add(user_id="jane", first_name="Jane", last_name="Smith")
        yield memory


@pytest.fixture
async def amem(real_embedder: Any, real_extractor: Any) -> AsyncIterator[AsyncMemory]:
    """An empty ephemeral AsyncMemory with user ``jane`` (Jane Smith)."""
    memory = AsyncMemory.ephemeral(embedder=real_embedder, extractor=real_extractor)
    await memory.user.add(user_id="jane", first_name="Jane", last_name="Smith")
    try:
        yield memory
    finally:
        await memory.close()


def assert_openai_valid(messages: list[dict[str, Any]]) -> None:
    """The sequence would be accepted by an OpenAI-style API (tool messages in order)."""
    check_openai_order(messages)
