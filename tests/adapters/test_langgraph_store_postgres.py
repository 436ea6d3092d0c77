"""``AgentMemoryStore`` over a PostgreSQL-backed memory: the shared LangGraph store suite, and two
replicas (two Memory objects on one database, as two Agent Server replicas would be) sharing items."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import BaseStore
from langgraph_agent_memory import AgentMemoryStore

from agent_memory import AsyncMemory, Memory

pytestmark = pytest.mark.slow

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
_suite = importlib.import_module("test_langgraph_store")
# a cross-section of the shared part (the whole of it runs on the embedded store in test_langgraph_store)
SHARED = ["test_put_get_round_trips_exactly", "test_delete", "test_search_prefix_order_and_pagination",
          "test_search_with_query_and_filter", "test_batch_reads_before_writes_and_last_put_wins", "test_async_twins"]
assert all("store" in inspect.signature(getattr(_suite, name)).parameters for name in SHARED)
globals().update({name: getattr(_suite, name) for name in SHARED})  # collected again, on the fixture below


@pytest.fixture
def store(postgres_url: str, real_embedder: Any, real_extractor: Any) -> Iterator[BaseStore]:
    with Memory(postgres_url, embedder=real_embedder, extractor=real_extractor) as memory:
        yield AgentMemoryStore(memory)


def test_the_shared_suite_is_collected_here() -> None:
    assert all(name in globals() for name in SHARED)


def test_replicas_share_one_memory(postgres_url: str, real_embedder: Any, real_extractor: Any) -> None:
    with Memory(postgres_url, embedder=real_embedder, extractor=real_extractor) as a, \
            Memory(postgres_url, embedder=real_embedder, extractor=real_extractor) as b:
        a.user.add(user_id="jane", first_name="Jane")
        first, second = AgentMemoryStore(a), AgentMemoryStore(b)
        first.put(("memories", "jane"), "food", {"text": "Jane is vegetarian and loves Thai curry"})
        item = second.get(("memories", "jane"), "food")  # the other replica, no restart
        assert item is not None and item.value["text"].startswith("Jane is vegetarian")
        hits = second.search(("memories", "jane"), query="what does Jane eat?", limit=3)
        assert [h.key for h in hits][:1] == ["food"]
        second.delete(("memories", "jane"), "food")
        assert first.get(("memories", "jane"), "food") is None


async def test_async_memory_on_postgres(postgres_url: str, real_embedder: Any, real_extractor: Any) -> None:
    memory = AsyncMemory(postgres_url, embedder=real_embedder, extractor=real_extractor)
    try:
        await memory.user.add(user_id="jane", first_name="Jane")
        ours = AgentMemoryStore(memory)
        await ours.aput(("memories", "jane"), "pet", {"text": "Jane has a dog called Biscuit"})
        hits = await ours.asearch(("memories", "jane"), query="Jane's dog", limit=2)
        assert hits and hits[0].key == "pet"
    finally:
        await memory.close()
