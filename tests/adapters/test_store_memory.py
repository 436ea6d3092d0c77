"""The LangGraph store as a user's memory: it forgets on delete, remembers text as text, knows its owner.

Each test is a behaviour issue 11 found broken: a deleted or overwritten item must leave no fact
behind, a text value must not become "jane's text is ...", ownership must come from the namespace
alone, and concurrent writes of one key must converge without errors.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import PutOp
from langgraph_agent_memory import AgentMemoryStore

from agent_memory import Memory
from agent_memory.errors import ConfigError, InvalidInputError

ROOT = Path(__file__).resolve().parents[2]


def current_facts(mem: Memory, user_id: str) -> list[str]:
    return [f.fact for f in mem.graph.facts(user_id=user_id, valid_only=True)]


def block(mem: Memory, user_id: str, query: str) -> str:
    return mem.context.get(user_id=user_id, query=query).context


@pytest.fixture
def store(mem: Memory) -> AgentMemoryStore:
    return AgentMemoryStore(mem)


# -- 1. delete and overwrite forget --------------------------------------------------------------
def test_delete_forgets_what_the_item_said(mem: Memory, store: AgentMemoryStore) -> None:
    store.put(("memories", "jane"), "allergy", {"text": "Jane is allergic to peanuts"})
    store.put(("memories", "jane"), "home", {"text": "Jane lives in Boston"})
    assert any("allergic to peanuts" in f for f in current_facts(mem, "jane"))
    store.delete(("memories", "jane"), "allergy")
    assert store.get(("memories", "jane"), "allergy") is None
    assert not any("allergic" in f for f in current_facts(mem, "jane"))
    context = block(mem, "jane", "Is Jane allergic to anything? peanuts")
    assert "allergic" not in context  # not in facts, episodes, entity summaries or the user summary
    assert "Boston" in context  # the other item stays


def test_overwrite_replaces_what_the_item_said(mem: Memory, store: AgentMemoryStore) -> None:
    store.put(("memories", "jane"), "home", {"text": "Jane lives in Boston"})
    store.put(("memories", "jane"), "home", {"text": "Jane lives in Denver"})
    facts = current_facts(mem, "jane")
    assert any("Denver" in f for f in facts) and not any("Boston" in f for f in facts)
    assert not any("Boston" in f.fact for f in mem.graph.facts(user_id="jane"))  # retracted, not just closed
    assert "lives in Boston" not in block(mem, "jane", "where does Jane live?")  # (a bare "Boston" entity may stay)
    assert store.get(("memories", "jane"), "home").value == {"text": "Jane lives in Denver"}


def test_langmem_style_manage_memory_update_and_delete(mem: Memory, store: AgentMemoryStore) -> None:
    """LangMem's manage_memory: create puts {"content": ...} under a new key, update re-puts the key, delete deletes."""
    ns = ("memories", "jane")
    store.put(ns, "3f1c", {"content": "Jane works at Acme"})
    store.put(ns, "3f1c", {"content": "Jane works at Globex"})  # action="update", id="3f1c"
    assert [i.value for i in store.search(ns)] == [{"content": "Jane works at Globex"}]
    assert not any("Acme" in f for f in current_facts(mem, "jane"))
    store.delete(ns, "3f1c")  # action="delete"
    assert store.search(ns) == [] and not any("Globex" in f for f in current_facts(mem, "jane"))


def test_a_fact_another_item_also_states_survives_the_delete(mem: Memory, store: AgentMemoryStore) -> None:
    store.put(("memories", "jane"), "a", {"text": "Jane lives in Boston"})
    store.put(("memories", "jane"), "b", {"text": "Jane lives in Boston"})
    store.delete(("memories", "jane"), "a")
    assert any("Boston" in f for f in current_facts(mem, "jane"))


# -- 2. values -----------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [
    {"text": "Carl likes sushi"}, {"content": "Carl likes sushi"}, {"data": "Carl likes sushi"},
    {"memory": "Carl likes sushi"}, "Carl likes sushi", {"text": "Carl likes sushi", "kind": "food"},
], ids=["text", "content", "data", "memory", "plain-string", "text-with-extras"])
def test_text_values_are_remembered_as_text(mem: Memory, store: AgentMemoryStore, value: Any) -> None:
    mem.user.add(user_id="carl", first_name="Carl")
    store.put(("memories", "carl"), "k", value)
    assert store.get(("memories", "carl"), "k").value == value  # exact round trip
    facts = current_facts(mem, "carl")
    assert any("likes sushi" in f for f in facts), facts
    assert not any(w in f for f in facts for w in ("'s text", "'s data", "'s content", "'s memory", "'s kind"))
    assert not mem.graph.entities(user_id="carl", type="Value")
    context = block(mem, "carl", "what does Carl like to eat?")
    assert "{" not in context and "sushi" in context  # no raw JSON line


def test_structured_values_keep_their_structure(mem: Memory, store: AgentMemoryStore) -> None:
    value = {"food_preference": "sushi", "spice": {"level": 3}}
    store.put(("memories", "jane"), "prefs", value)
    assert store.get(("memories", "jane"), "prefs").value == value
    episodes = mem.graph.episodes(user_id="jane", source="json")
    assert [json.loads(e.content) for e in episodes] == [value]


# -- 3. ownership --------------------------------------------------------------------------------
def test_documented_layout_creates_the_user_on_first_use(mem: Memory, store: AgentMemoryStore) -> None:
    store.put(("memories", "dana"), "k", {"text": "Dana plays the cello"})
    assert mem.user.get("dana")
    assert "cello" in block(mem, "dana", "what instrument does Dana play?")
    with pytest.raises(Exception, match="langgraph_store"):
        mem.user.get("langgraph_store")  # nothing went to a shared owner


def test_a_label_never_captures_another_users_items(mem: Memory, store: AgentMemoryStore) -> None:
    mem.user.add(user_id="memories")  # a user whose id equals the namespace label
    store.put(("memories", "bob"), "k", {"text": "Bob is allergic to shellfish"})
    assert "shellfish" not in block(mem, "memories", "allergies shellfish")
    assert mem.graph.episodes(user_id="memories") == []
    assert "shellfish" in block(mem, "bob", "allergies shellfish")


def test_unowned_namespaces_go_to_the_shared_owner_or_are_refused(mem: Memory) -> None:
    AgentMemoryStore(mem).put(("docs",), "k", {"text": "The office opens at nine"})
    assert [e.content for e in mem.graph.episodes(user_id="langgraph_store")] == ["The office opens at nine"]
    strict = AgentMemoryStore(mem, shared_user_id=None)
    with pytest.raises(InvalidInputError, match="names no user"):
        strict.put(("docs",), "k2", {"text": "x"})
    with pytest.raises(InvalidInputError, match="shared_user_id"):
        AgentMemoryStore(mem).put(("memories", "langgraph_store"), "k", {"text": "x"})


def test_custom_templates_and_owner_functions(mem: Memory) -> None:
    by_template = AgentMemoryStore(mem, user_namespace=("app", "users", "{user_id}"))
    by_template.put(("app", "users", "erin", "notes"), "k", {"text": "Erin has a dog named Rex"})
    assert [e.content for e in mem.graph.episodes(user_id="erin")] == ["Erin has a dog named Rex"]
    assert [i.key for i in by_template.search(("app", "users", "erin"))] == ["k"]
    by_key = AgentMemoryStore(mem, user_namespace=lambda ns, key: key if ns == ("users",) else None)
    by_key.put(("users",), "fay", {"text": "Fay speaks Portuguese"})  # LangChain docs: key = user id
    assert [e.content for e in mem.graph.episodes(user_id="fay")] == ["Fay speaks Portuguese"]
    with pytest.raises(ConfigError, match="user_id"):
        AgentMemoryStore(mem, user_namespace=("memories", "user"))


# -- 4. concurrent writes of one key -------------------------------------------------------------
async def test_concurrent_aput_of_one_key_converges(mem: Memory) -> None:
    store = AgentMemoryStore(mem)
    await asyncio.gather(*(store.aput(("memories", "jane"), "k", {"v": i}) for i in range(10)))
    items = await store.asearch(("memories", "jane"))
    assert len(items) == 1 and items[0].value in [{"v": i} for i in range(10)]
    assert (await store.aget(("memories", "jane"), "k")).value == items[0].value
    assert len(mem.graph.episodes(user_id="jane", source="json")) == 1
    await store.aput(("memories", "jane"), "k", {"v": "last"})
    assert (await store.aget(("memories", "jane"), "k")).value == {"v": "last"}


def test_concurrent_threads_writing_one_key_converge(mem: Memory) -> None:
    store = AgentMemoryStore(mem)
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            store.put(("memories", "jane"), "k", {"text": f"note number {i}"})
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert len(store.search(("memories", "jane"))) == 1
    assert len(mem.graph.episodes(user_id="jane", source="text")) == 1


async def test_many_keys_in_concurrent_batches(mem: Memory) -> None:
    store = AgentMemoryStore(mem)
    batches = [[PutOp(("memories", "jane", f"b{b}"), f"k{i}", {"v": i}) for i in range(5)] for b in range(4)]
    await asyncio.gather(*(store.abatch(ops) for ops in batches))
    assert len(await store.asearch(("memories", "jane"), limit=100)) == 20


async def test_mixed_concurrent_operations_raise_nothing(mem: Memory) -> None:
    """LangGraph's large-batch pattern, scaled down: puts, gets, lists, searches and deletes of the same keys at once."""
    store = AgentMemoryStore(mem)
    n, m = 4, 3
    coros = []
    for j in range(m):
        ns = ("test", "foo", "bar", "baz", str(j % 2))
        for i in range(n):
            coros += [store.aput(ns, f"key{i}", {"foo": f"bar{i}"}), store.aget(ns, f"key{i}"),
                      store.alist_namespaces(prefix=None, max_depth=j + 1), store.asearch(("test",)),
                      store.aput(ns, f"key{i}", {"foo": f"bar{i}"}), store.adelete(ns, f"key{i}")]
    results = await asyncio.gather(*coros, return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert len(results) == n * m * 6
    for j in range(2):  # whatever survived is whole: one version per key, readable
        for item in await store.asearch(("test", "foo", "bar", "baz", str(j)), limit=100):
            assert item.value == {"foo": "bar" + item.key.removeprefix("key")}
    assert len({(i.namespace, i.key) for i in await store.asearch(("test",), limit=100)}) == len(
        await store.asearch(("test",), limit=100))


# -- 5. scores -----------------------------------------------------------------------------------
def test_search_scores_are_calibrated_relevance(store: AgentMemoryStore) -> None:
    store.put(("memories", "jane"), "cat", {"text": "Jane has a grey cat called Miso"})
    store.put(("memories", "jane"), "job", {"text": "Jane works as a nurse at the city hospital"})
    good = store.search(("memories", "jane"), query="Jane's cat")
    nonsense = store.search(("memories", "jane"), query="quantum zebra carburetor")
    assert good[0].key == "cat" and good[0].score > 0.5
    assert all(0.0 <= i.score <= 1.0 for i in [*good, *nonsense])
    assert max(i.score for i in nonsense) < 0.3 < good[0].score


# -- 9. arguments users of PostgresStore/InMemoryStore reach for -----------------------------------
def test_index_paths_choose_what_is_remembered(mem: Memory) -> None:
    store = AgentMemoryStore(mem, index={"fields": ["summary"]})
    value = {"summary": "Jane runs marathons", "raw": {"id": 7}}
    store.put(("memories", "jane"), "k", value)
    assert [e.content for e in mem.graph.episodes(user_id="jane", source="text")] == ["Jane runs marathons"]
    assert store.get(("memories", "jane"), "k").value == value
    store.put(("memories", "jane"), "ch", {"chapters": [{"content": "Jane sings"}, {"content": "in a choir"}]},
              index=["chapters[*].content"])
    assert "Jane sings\nin a choir" in [e.content for e in mem.graph.episodes(user_id="jane", source="text")]
    with pytest.raises(InvalidInputError, match="unsupported index path"):
        store.put(("memories", "jane"), "k", value, index=["$.summary"])
    with pytest.raises(ConfigError, match="embedder"):
        AgentMemoryStore(mem, index={"dims": 1536, "embed": "openai:text-embedding-3-small"})


def test_from_conn_string_and_setup(tmp_path: Path) -> None:
    with AgentMemoryStore.from_conn_string(str(tmp_path / "home")) as store:
        store.setup()
        store.put(("docs",), "k", {"v": 1})
        assert store.get(("docs",), "k").value == {"v": 1}
    with AgentMemoryStore.from_conn_string(str(tmp_path / "home")) as store:
        assert store.get(("docs",), "k").value == {"v": 1}
    with pytest.raises(ConfigError, match="home directory"), \
            AgentMemoryStore.from_conn_string("postgresql://localhost/db"):
        pass


async def test_afrom_conn_string_and_asetup(tmp_path: Path) -> None:
    async with AgentMemoryStore.afrom_conn_string(str(tmp_path / "home")) as store:
        await store.asetup()
        await store.aput(("docs",), "k", {"v": 1})
        assert (await store.aget(("docs",), "k")).value == {"v": 1}


def test_importing_the_store_does_not_need_langchain() -> None:
    code = ("import sys; sys.modules['langchain'] = None; "
            "from langgraph_agent_memory import AgentMemoryStore; print(AgentMemoryStore.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={**__import__("os").environ})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "AgentMemoryStore"
