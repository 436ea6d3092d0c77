"""LangGraph store: one parametrised suite run against ``InMemoryStore`` and ``AgentMemoryStore``.

Every test in the first part runs on both stores and asserts the same literal results, so the
two behave alike on these cases. ``InMemoryStore`` is given an index built on the same MiniLM
embedder, so query searches rank comparably. The second part tests what only ours does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import langgraph_agent_memory
import pytest
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore
from langgraph_agent_memory import AgentMemoryStore
from langgraph_agent_memory.store import STORE_MARKER, matches_filter

from agent_memory import AsyncMemory, Memory
from agent_memory.errors import InvalidInputError

STORES = ["in_memory", "agent_memory"]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, real_embedder: Any, real_extractor: Any) -> Iterator[BaseStore]:
    """Each test of the shared suite runs once on each store."""
    if request.param == "in_memory":
        yield InMemoryStore(index={"dims": real_embedder.dimensions,
                                   "embed": lambda texts: real_embedder.embed_batch(list(texts)).tolist()})
        return
    with Memory.ephemeral(embedder=real_embedder, extractor=real_extractor) as memory:
        yield AgentMemoryStore(memory)


def keys(items: list[Any]) -> list[str]:
    return [i.key for i in items]


# -- the shared suite ---------------------------------------------------------------------------------
VALUES = {
    "plain": {"text": "likes sushi"},
    "nested": {"a": {"b": [1, 2.5, None, True, "x"]}, "unicode": "Zoë — 東京", "empty": {}, "list": []},
    "numbers": {"int": 7, "float": 0.1, "neg": -3, "big": 10**15, "exp": 1e-9},
    "empty": {},
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_put_get_round_trips_exactly(store: BaseStore, name: str) -> None:
    store.put(("docs",), name, VALUES[name])
    item = store.get(("docs",), name)
    assert isinstance(item, Item)
    assert item.value == VALUES[name] and json.dumps(item.value) == json.dumps(VALUES[name])
    assert (item.namespace, item.key) == (("docs",), name)
    assert item.created_at is not None and item.updated_at is not None


def test_get_missing_is_none(store: BaseStore) -> None:
    store.put(("a", "b"), "k", {"v": 1})
    assert store.get(("a", "b"), "other") is None
    assert store.get(("a",), "k") is None


def test_overwrite_keeps_one_item_and_its_place(store: BaseStore) -> None:
    store.put(("ns",), "first", {"v": 1})
    store.put(("ns",), "second", {"v": 2})
    store.put(("ns",), "first", {"v": 3})
    assert store.get(("ns",), "first").value == {"v": 3}
    assert [(i.key, i.value) for i in store.search(("ns",))] == [("first", {"v": 3}), ("second", {"v": 2})]


def test_delete(store: BaseStore) -> None:
    store.put(("ns",), "a", {"v": 1})
    store.put(("ns",), "b", {"v": 2})
    store.delete(("ns",), "a")
    store.delete(("ns",), "missing")  # no error
    assert store.get(("ns",), "a") is None
    assert keys(store.search(("ns",))) == ["b"]
    store.put(("ns",), "a", {"v": 4})  # re-put after delete goes last
    assert keys(store.search(("ns",))) == ["b", "a"]


def test_search_prefix_order_and_pagination(store: BaseStore) -> None:
    for i in range(5):
        store.put(("users", "u1", "notes"), f"n{i}", {"i": i})
    store.put(("users", "u2"), "x", {"i": 99})
    store.put(("other",), "y", {"i": 100})
    assert keys(store.search(("users", "u1"))) == ["n0", "n1", "n2", "n3", "n4"]
    assert keys(store.search(("users",))) == ["n0", "n1", "n2", "n3", "n4", "x"]
    assert keys(store.search(("users",), limit=2)) == ["n0", "n1"]
    assert keys(store.search(("users",), limit=2, offset=2)) == ["n2", "n3"]
    assert keys(store.search(("users",), offset=10)) == []
    assert len(store.search(())) == 7
    assert store.search(("nobody",)) == []


FILTER_CASES = [
    ({"color": "red"}, ["a", "c"]),
    ({"color": {"$eq": "red"}}, ["a", "c"]),
    ({"color": {"$ne": "red"}}, ["b", "d"]),
    ({"n": {"$gt": 2}}, ["c", "d"]),
    ({"n": {"$gte": 2}}, ["b", "c", "d"]),
    ({"n": {"$lt": 2}}, ["a"]),
    ({"n": {"$lte": 2}}, ["a", "b"]),
    ({"n": {"$gt": 1, "$lt": 4}}, ["b", "c"]),
    ({"color": "red", "n": {"$gte": 3}}, ["c"]),
    ({"meta": {"size": "L"}}, ["a"]),
    ({"tags": ["x", "y"]}, ["b"]),
    ({"color": "purple"}, []),
]


@pytest.mark.parametrize(("flt", "expected"), FILTER_CASES)
def test_search_filters(store: BaseStore, flt: dict[str, Any], expected: list[str]) -> None:
    store.put(("f",), "a", {"color": "red", "n": 1, "meta": {"size": "L"}, "tags": ["x"]})
    store.put(("f",), "b", {"color": "blue", "n": 2, "meta": {"size": "M"}, "tags": ["x", "y"]})
    store.put(("f",), "c", {"color": "red", "n": 3, "meta": {"size": "S"}, "tags": []})
    store.put(("f",), "d", {"color": "green", "n": 4, "meta": {}, "tags": ["y"]})
    assert keys(store.search(("f",), filter=flt)) == expected


def test_search_unknown_operator_raises(store: BaseStore) -> None:
    store.put(("f",), "a", {"n": 1})
    with pytest.raises(ValueError, match="Unsupported operator"):
        store.search(("f",), filter={"n": {"$regex": "1"}})


MEMORIES = {
    "food": {"text": "Jane is vegetarian and loves spicy Thai curry"},
    "pet": {"text": "Jane has a grey cat called Miso"},
    "work": {"text": "Jane works as a nurse at the city hospital"},
    "sport": {"text": "Jane plays tennis every Sunday morning"},
}


@pytest.mark.parametrize(("query", "top"), [
    ("what should I cook for dinner?", "food"),
    ("tell me about her cat", "pet"),
    ("where is her job?", "work"),
    ("weekend tennis match", "sport"),
])
def test_search_with_query_ranks_the_same_item_first(store: BaseStore, query: str, top: str) -> None:
    for key, value in MEMORIES.items():
        store.put(("memories", "jane"), key, value)
    found = store.search(("memories",), query=query, limit=4)
    assert sorted(keys(found)) == sorted(MEMORIES)
    assert found[0].key == top
    assert all(i.score is not None for i in found)
    assert [i.score for i in found] == sorted((i.score for i in found), reverse=True)


def test_search_with_query_and_filter(store: BaseStore) -> None:
    for key, value in MEMORIES.items():
        kind = "hobby" if key in ("sport", "pet") else "life"
        store.put(("memories", "jane"), key, {**value, "kind": kind})
    found = store.search(("memories",), query="cat", filter={"kind": "hobby"})
    assert keys(found) == ["pet", "sport"]


def test_list_namespaces(store: BaseStore) -> None:
    for ns in [("a", "b", "c"), ("a", "b", "d"), ("a", "e"), ("x", "b", "c"), ("x",)]:
        store.put(ns, "k", {"v": 1})
    assert store.list_namespaces() == [("a", "b", "c"), ("a", "b", "d"), ("a", "e"), ("x",), ("x", "b", "c")]
    assert store.list_namespaces(prefix=("a",)) == [("a", "b", "c"), ("a", "b", "d"), ("a", "e")]
    assert store.list_namespaces(prefix=("a", "b")) == [("a", "b", "c"), ("a", "b", "d")]
    assert store.list_namespaces(suffix=("c",)) == [("a", "b", "c"), ("x", "b", "c")]
    assert store.list_namespaces(prefix=("*", "b")) == [("a", "b", "c"), ("a", "b", "d"), ("x", "b", "c")]
    assert store.list_namespaces(suffix=("b", "*")) == [("a", "b", "c"), ("a", "b", "d"), ("x", "b", "c")]
    assert store.list_namespaces(prefix=("a",), suffix=("d",)) == [("a", "b", "d")]
    assert store.list_namespaces(max_depth=1) == [("a",), ("x",)]
    assert store.list_namespaces(max_depth=2) == [("a", "b"), ("a", "e"), ("x",), ("x", "b")]
    assert store.list_namespaces(prefix=("a",), max_depth=2) == [("a", "b"), ("a", "e")]
    assert store.list_namespaces(limit=2) == [("a", "b", "c"), ("a", "b", "d")]
    assert store.list_namespaces(limit=2, offset=3) == [("x",), ("x", "b", "c")]
    assert store.list_namespaces(prefix=("zzz",)) == []


def test_batch_reads_before_writes_and_last_put_wins(store: BaseStore) -> None:
    store.put(("b",), "k", {"v": 0})
    results = store.batch([
        PutOp(("b",), "k", {"v": 1}),
        GetOp(("b",), "k"),
        PutOp(("b",), "k", {"v": 2}),
        SearchOp(("b",)),
        ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("b",)),)),
        PutOp(("b",), "new", {"v": 3}),
    ])
    assert results[0] is None and results[2] is None and results[5] is None
    assert results[1].value == {"v": 0}
    assert [i.value for i in results[3]] == [{"v": 0}]
    assert results[4] == [("b",)]
    assert store.get(("b",), "k").value == {"v": 2}
    assert store.get(("b",), "new").value == {"v": 3}


def test_batch_put_then_delete_in_one_batch(store: BaseStore) -> None:
    store.batch([PutOp(("d",), "k", {"v": 1}), PutOp(("d",), "k", None)])
    assert store.get(("d",), "k") is None


@pytest.mark.parametrize("namespace", [(), ("",), ("a.b",), ("langgraph", "x")])
def test_invalid_namespaces_are_refused(store: BaseStore, namespace: tuple[str, ...]) -> None:
    with pytest.raises(InvalidNamespaceError):
        store.put(namespace, "k", {"v": 1})


def test_ttl_is_not_supported(store: BaseStore) -> None:
    with pytest.raises(NotImplementedError):
        store.put(("t",), "k", {"v": 1}, ttl=5)


async def test_async_twins(store: BaseStore) -> None:
    await store.aput(("as", "x"), "k1", {"v": 1})
    await store.aput(("as", "y"), "k2", {"v": 2})
    assert (await store.aget(("as", "x"), "k1")).value == {"v": 1}
    assert keys(await store.asearch(("as",), filter={"v": {"$gt": 1}})) == ["k2"]
    assert await store.alist_namespaces(prefix=("as",)) == [("as", "x"), ("as", "y")]
    await store.adelete(("as", "x"), "k1")
    assert await store.aget(("as", "x"), "k1") is None
    results = await store.abatch([GetOp(("as", "y"), "k2"), SearchOp(("as",), query="v")])
    assert results[0].value == {"v": 2} and keys(results[1]) == ["k2"]


def test_overwrite_moves_the_item_in_query_ranking(store: BaseStore) -> None:
    store.put(("t",), "doc1", {"text": "zany zebra Xerxes"})
    store.put(("t",), "doc2", {"text": "something about dogs"})
    store.put(("t",), "doc3", {"text": "text about birds"})
    first = store.search(("t",), query="Zany Xerxes")
    assert first[0].key == "doc1"
    store.put(("t",), "doc1", {"text": "new text about dogs"})
    after = {i.key: i.score for i in store.search(("t",), query="Zany Xerxes")}
    assert after["doc1"] < first[0].score
    fresh = {i.key: i.score for i in store.search(("t",), query="new text about dogs")}
    assert fresh["doc1"] > after["doc1"]
    store.put(("t",), "doc4", {"text": "new text about dogs"}, index=False)
    assert "doc4" not in keys(store.search(("t",), query="new text about dogs", limit=3))


def test_query_search_with_filters_ranks_within_the_filter(store: BaseStore) -> None:
    for key, value in [("doc1", {"text": "red apple", "color": "red", "score": 4.5}),
                       ("doc2", {"text": "red car", "color": "red", "score": 3.0}),
                       ("doc3", {"text": "green apple", "color": "green", "score": 4.0}),
                       ("doc4", {"text": "blue car", "color": "blue", "score": 3.5})]:
        store.put(("t",), key, value)
    assert keys(store.search(("t",), query="apple", filter={"color": "red"})) == ["doc1", "doc2"]
    assert keys(store.search(("t",), query="car", filter={"color": "red"})) == ["doc2", "doc1"]
    assert keys(store.search(("t",), query="apple", filter={"score": {"$gte": 4.0}, "color": "green"})) == ["doc3"]


@pytest.mark.parametrize("query", ["", None, "test " * 100, "test!@#$%^&*()", 'quote " and (paren'])
def test_odd_queries_still_find_the_item(store: BaseStore, query: str | None) -> None:
    store.put(("t",), "doc1", {"text": "test document"})
    assert keys(store.search(("t",), query=query)) == ["doc1"]


def test_langgraph_label_below_the_root_is_allowed(store: BaseStore) -> None:
    ns = ("foo", "langgraph", "foo")
    store.put(ns, "bar", {"foo": "bar"})
    assert store.get(ns, "bar").value == {"foo": "bar"} and store.search(ns)[0].value == {"foo": "bar"}
    store.delete(ns, "bar")
    assert store.get(ns, "bar") is None


def test_list_namespaces_of_an_empty_store_and_an_exact_prefix(store: BaseStore) -> None:
    assert store.list_namespaces() == []
    for ns in [("users", "123"), ("users", "456", "settings"), ("a", "b", "d", "e"), ("a", "b", "c")]:
        store.put(ns, "k", {"data": "v"})
    assert store.list_namespaces(prefix=("users", "123")) == [("users", "123")]
    assert store.list_namespaces(prefix=("a", "b"), max_depth=3) == [("a", "b", "c"), ("a", "b", "d")]


# -- only ours ---------------------------------------------------------------------------------------
def test_all_is_pinned() -> None:
    assert sorted(langgraph_agent_memory.__all__) == [
        "AgentMemoryMiddleware", "AgentMemoryStore", "MemoryTurn", "create_memory_node", "create_memory_tools"]


@pytest.fixture
def ours(mem: Memory) -> AgentMemoryStore:
    return AgentMemoryStore(mem)


def test_items_of_a_user_namespace_live_in_that_users_graph(mem: Memory, ours: AgentMemoryStore) -> None:
    ours.put(("memories", "jane"), "diet", {"text": "Jane is vegetarian"})
    ours.put(("notes",), "x", {"text": "unowned"})
    episodes = mem.graph.episodes(user_id="jane", source="text")
    assert [e.content for e in episodes] == ["Jane is vegetarian"]
    assert episodes[0].metadata[STORE_MARKER]["namespace"] == ["memories", "jane"]
    assert mem.user.get("langgraph_store")  # the shared owner, created on demand
    unowned = mem.graph.episodes(user_id="langgraph_store")
    assert [e.content for e in unowned] == ["unowned"]
    # and the item feeds Jane's context block
    assert "vegetarian" in mem.context.get(user_id="jane", query="what does Jane eat?").context


def test_fixed_user_store_is_a_view_of_one_graph(mem: Memory) -> None:
    mem.user.add(user_id="bob")
    jane, bob = AgentMemoryStore(mem, user_id="jane"), AgentMemoryStore(mem, user_id="bob")
    jane.put(("prefs",), "color", {"v": "green"})
    bob.put(("prefs",), "color", {"v": "blue"})
    assert jane.get(("prefs",), "color").value == {"v": "green"}
    assert bob.get(("prefs",), "color").value == {"v": "blue"}
    assert keys(jane.search(("prefs",))) == ["color"] and jane.list_namespaces() == [("prefs",)]
    multi = AgentMemoryStore(mem)
    assert multi.get(("prefs",), "color") is None and multi.list_namespaces() == []


def test_overwrite_and_delete_remove_the_old_episode(mem: Memory, ours: AgentMemoryStore) -> None:
    ours.put(("memories", "jane"), "k", {"v": 1})
    ours.put(("memories", "jane"), "k", {"v": 2})
    assert [e.content for e in mem.graph.episodes(user_id="jane", source="json")] == ['{"v": 2}']
    ours.delete(("memories", "jane"), "k")
    assert mem.graph.episodes(user_id="jane", source="json") == []


def test_bad_values_are_refused_before_the_old_item_is_touched(ours: AgentMemoryStore) -> None:
    ours.put(("ns",), "k", {"v": 1})
    with pytest.raises(InvalidInputError, match="JSON"):
        ours.put(("ns",), "k", {"when": object()})
    with pytest.raises(InvalidInputError, match="characters"):
        ours.put(("ns",), "k", {"text": "x" * 200_000})
    assert ours.get(("ns",), "k").value == {"v": 1}


def test_unindexed_items_have_no_score(ours: AgentMemoryStore) -> None:
    ours.put(("ns",), "indexed", {"text": "tennis on sundays"})
    ours.put(("ns",), "hidden", {"text": "tennis on sundays"}, index=False)
    found = ours.search(("ns",), query="tennis")
    assert [(i.key, i.score is None) for i in found] == [("indexed", False), ("hidden", True)]


def test_list_namespaces_drops_emptied_namespaces(ours: AgentMemoryStore) -> None:
    """A deliberate divergence (docs/adapters.md): InMemoryStore keeps listing a namespace whose items are gone."""
    ours.put(("gone",), "k", {"v": 1})
    ours.put(("kept",), "k", {"v": 1})
    ours.delete(("gone",), "k")
    assert ours.list_namespaces() == [("kept",)]
    reference = InMemoryStore()
    reference.put(("gone",), "k", {"v": 1})
    reference.delete(("gone",), "k")
    assert reference.list_namespaces() == [("gone",)]


def test_store_items_do_not_show_up_as_chat_history(mem: Memory, ours: AgentMemoryStore) -> None:
    ours.put(("memories", "jane"), "k", {"text": "hello"})
    thread_id = ours.thread_id_for(("memories", "jane"), "k")
    assert mem.thread.get_messages(thread_id) == []


async def test_async_memory_store(amem: AsyncMemory) -> None:
    store = AgentMemoryStore(amem)
    await store.aput(("memories", "jane"), "k", {"text": "Jane likes jazz"})
    assert (await store.aget(("memories", "jane"), "k")).value == {"text": "Jane likes jazz"}
    found = await store.asearch(("memories",), query="music")
    assert keys(found) == ["k"]
    with pytest.raises(TypeError, match="AsyncMemory"):
        store.get(("memories", "jane"), "k")


def test_matches_filter_helper() -> None:
    assert matches_filter({"a": 1}, None) and matches_filter({"a": 1}, {})
    assert not matches_filter({"a": None}, {"a": {"$gt": 0}})
