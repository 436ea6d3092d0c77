"""The GraphStore contract, run against every backend in ``conftest.BACKENDS``.

Each test states one rule of ``agent_memory/storage/base.py``: scoped by user, transactions that
other threads never join, the vector outbox, reconcile, delete means gone.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from agent_memory.errors import AlreadyExistsError
from agent_memory.models import Entity, Episode, EpisodeSource, EpisodeStatus, Fact, Observation, Thread, User
from agent_memory.storage.base import GraphStore, VectorTask

from .conftest import StoreFactory

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)


def vec(seed: int, dim: int = 8) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def seed_user(store: GraphStore, user_id: str, word: str) -> dict[str, str]:
    """A user with a thread, two episodes, two entities, a fact and an observation; returns their ids."""
    store.add_user(User(user_id=user_id, first_name=user_id.title()))
    store.add_thread(Thread(thread_id=f"{user_id}-t", user_id=user_id))
    eps = [Episode(user_id=user_id, thread_id=f"{user_id}-t", source=EpisodeSource.message,
                   content=f"{word} message number {i}", reference_time=T0 + timedelta(minutes=i)) for i in range(2)]
    store.add_episodes(eps)
    a = Entity(uuid=f"{user_id}-ea", user_id=user_id, name=f"{word} Alpha", type="Person")
    b = Entity(uuid=f"{user_id}-eb", user_id=user_id, name=f"{word} Beta", type="Place")
    store.save_entity(a)
    store.save_entity(b)
    store.save_fact(Fact(uuid=f"{user_id}-f", user_id=user_id, source_uuid=a.uuid, target_uuid=b.uuid,
                         relation="LIVES_IN", fact=f"{word} Alpha lives in {word} Beta", episodes=[eps[0].uuid]))
    obs = store.save_observation(Observation(user_id=user_id, key="k", text=f"{word} keeps coming back",
                                             first_seen=T0, last_seen=T0, count=2))
    return {"episode": eps[0].uuid, "episode2": eps[1].uuid, "entity": a.uuid, "entity2": b.uuid,
            "fact": f"{user_id}-f", "observation": obs.uuid}


def drain(store: GraphStore, user_id: str | None = None) -> int:
    """Settle every task with a vector derived from the record id (a stand-in for the indexer)."""
    done = 0
    while tasks := store.vector_tasks(1000, user_id=user_id):
        by: dict[tuple[str, str], list[VectorTask]] = {}
        for t in tasks:
            by.setdefault((t.user_id, t.kind), []).append(t)
        for (uid, kind), group in by.items():
            ids = [t.uuid for t in group]
            store.write_vectors(uid, kind, ids, np.stack([vec(hash(i) % 10_000) for i in ids]),  # type: ignore[arg-type]
                                queued_before=max(t.seq for t in group))
            done += len(group)
    return done


def test_every_read_is_scoped_by_user(store: GraphStore) -> None:
    jane, bob = seed_user(store, "jane", "kayak"), seed_user(store, "bob", "violin")
    drain(store)
    assert store.get_episodes("bob", [jane["episode"]]) == []
    assert store.get_entities("bob", [jane["entity"]]) == []
    assert store.get_facts("bob", [jane["fact"]]) == []
    assert store.get_observations("bob", [jane["observation"]]) == []
    assert store.facts_of_episodes("bob", [jane["episode"]]) == {}
    assert store.search_text("bob", "episode", "kayak", 10) == []
    assert [u for u, _ in store.search_text("jane", "episode", "kayak", 10)]
    hits = store.search_vectors("bob", "entity", np.stack([vec(hash(jane["entity"]) % 10_000)]), 5)[0]
    assert jane["entity"] not in {u for u, _ in hits}
    assert [f.uuid for f in store.get_facts("bob", [bob["fact"]])] == [bob["fact"]]


def test_records_owe_vectors_until_written(store: GraphStore) -> None:
    ids = seed_user(store, "jane", "kayak")
    owed = {(t.kind, t.uuid) for t in store.vector_tasks(100, user_id="jane")}
    assert owed >= {("episode", ids["episode"]), ("entity", ids["entity"]), ("fact", ids["fact"]),
                    ("observation", ids["observation"])}
    assert store.count_vectors("jane", "fact") == 0
    drain(store, "jane")
    assert store.vector_tasks(100, user_id="jane") == []
    assert store.count_vectors("jane", "fact") == 1 and store.count_vectors("jane", "episode") == 2
    [hits] = store.search_vectors("jane", "fact", np.stack([vec(hash(ids["fact"]) % 10_000)]), 3)
    assert hits[0][0] == ids["fact"] and hits[0][1] == pytest.approx(1.0, abs=1e-4)


def test_write_vectors_is_idempotent(store: GraphStore) -> None:
    ids = seed_user(store, "jane", "kayak")
    for _ in range(3):
        store.write_vectors("jane", "fact", [ids["fact"]], np.stack([vec(1)]))
    assert store.count_vectors("jane", "fact") == 1


def test_an_edit_made_while_a_vector_was_computed_keeps_its_task(store: GraphStore) -> None:
    ids = seed_user(store, "jane", "kayak")
    drain(store)
    [entity] = store.get_entities("jane", [ids["entity"]])
    store.save_entity(entity.model_copy(update={"summary": "first"}))
    [task] = [t for t in store.vector_tasks(100, user_id="jane") if t.uuid == ids["entity"]]
    store.save_entity(entity.model_copy(update={"summary": "second"}))  # edited after the text was read
    store.write_vectors("jane", "entity", [task.uuid], np.stack([vec(2)]), queued_before=task.seq)
    assert [t.uuid for t in store.vector_tasks(100, user_id="jane")] == [ids["entity"]]
    store.save_entity(entity.model_copy(update={"summary": "second", "aliases": ["Al"]}))  # same embedded text
    assert len(store.vector_tasks(100, user_id="jane")) == 1


def test_vectors_of_deleted_records_are_not_written(store: GraphStore) -> None:
    ids = seed_user(store, "jane", "kayak")
    drain(store)
    store.delete_episode("jane", ids["episode"])
    store.write_vectors("jane", "episode", [ids["episode"]], np.stack([vec(3)]))
    store.write_vectors("jane", "fact", [ids["fact"]], np.stack([vec(3)]))  # the fact only that episode stated
    assert store.count_vectors("jane", "episode") == 1 and store.count_vectors("jane", "fact") == 0
    assert store.get_facts("jane", [ids["fact"]]) == []


def test_a_rolled_back_transaction_leaves_no_record_and_no_task(store: GraphStore) -> None:
    seed_user(store, "jane", "kayak")
    drain(store)
    with pytest.raises(RuntimeError), store.atomic():
        store.save_entity(Entity(uuid="ghost", user_id="jane", name="Ghost", type="Thing"))
        raise RuntimeError("boom")
    assert store.get_entities("jane", ["ghost"]) == [] and store.vector_tasks(10) == []


def test_another_threads_write_never_joins_an_open_transaction(store: GraphStore) -> None:
    """The old SQLiteStore ran a write from thread B inside thread A's open transaction: A's
    rollback took B's write with it."""
    seed_user(store, "jane", "kayak")
    opened, wrote = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def other() -> None:
        opened.wait(5)
        try:
            store.save_entity(Entity(uuid="from-b", user_id="jane", name="From B", type="Thing"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        wrote.set()

    worker = threading.Thread(target=other)
    worker.start()
    with pytest.raises(RuntimeError), store.atomic():
        store.save_entity(Entity(uuid="from-a", user_id="jane", name="From A", type="Thing"))
        opened.set()
        wrote.wait(0.5)  # B must not be able to write into this transaction meanwhile
        raise RuntimeError("A rolls back")
    worker.join(10)
    assert not errors
    assert store.get_entities("jane", ["from-a"]) == []
    assert [e.uuid for e in store.get_entities("jane", ["from-b"])] == ["from-b"]


def test_a_reader_in_another_thread_does_not_wait_for_an_open_transaction(store: GraphStore) -> None:
    seed_user(store, "jane", "kayak")
    seen: list[object] = []
    read = threading.Event()

    def reader() -> None:
        seen.append(store.get_entities("jane", ["jane-ea", "uncommitted"]))
        seen.append(store.search_text("jane", "episode", "kayak", 5))
        read.set()

    with store.atomic():
        store.save_entity(Entity(uuid="uncommitted", user_id="jane", name="Not yet", type="Thing"))
        worker = threading.Thread(target=reader)
        worker.start()
        assert read.wait(10), "a reader waited for another thread's transaction"
    worker.join(10)
    entities = seen[0]
    assert [e.uuid for e in entities] == ["jane-ea"]  # type: ignore[attr-defined]
    assert seen[1]


def test_reconcile_of_a_consistent_store_repairs_nothing(store: GraphStore) -> None:
    seed_user(store, "jane", "kayak")
    drain(store)
    report = store.reconcile()
    assert report.repaired == 0


def test_delete_user_removes_rows_tasks_and_vectors_of_that_user_only(store: GraphStore) -> None:
    jane, bob = seed_user(store, "jane", "kayak"), seed_user(store, "bob", "violin")
    drain(store, "bob")
    drain(store, "jane")
    seed_user_extra = Entity(uuid="jane-late", user_id="jane", name="Late", type="Thing")
    store.save_entity(seed_user_extra)  # a task still owed when the user goes
    store.delete_user("jane")
    assert store.get_user("jane") is None
    assert store.list_episodes("jane") == [] and store.list_entities("jane") == []
    assert store.vector_tasks(100, user_id="jane") == []
    for kind in ("episode", "entity", "fact", "observation"):
        assert store.count_vectors("jane", kind) == 0  # type: ignore[arg-type]
    assert store.count_vectors("bob", "episode") == 2
    assert [f.uuid for f in store.get_facts("bob", [bob["fact"]])] == [bob["fact"]]
    assert store.reconcile().repaired == 0
    del jane


def test_delete_thread_removes_its_episodes_and_their_vectors(store: GraphStore) -> None:
    ids = seed_user(store, "jane", "kayak")
    drain(store)
    store.delete_thread("jane-t")
    assert store.get_thread("jane-t") is None
    assert store.get_episodes("jane", [ids["episode"], ids["episode2"]]) == []
    assert store.count_vectors("jane", "episode") == 0
    assert store.count_facts("jane") == 1  # what the graph learned stays


def test_episode_status_and_pending_order(store: GraphStore) -> None:
    ids = seed_user(store, "jane", "kayak")
    assert [e.uuid for e in store.pending_episodes("jane")] == [ids["episode"], ids["episode2"]]
    assert store.users_with_pending() == ["jane"]
    store.set_episode_status("bob", ids["episode"], EpisodeStatus.processed)  # another user's id: no effect
    assert store.count_episodes("jane", "pending") == 2
    store.set_episode_status("jane", ids["episode"], EpisodeStatus.processed)
    assert [e.uuid for e in store.pending_episodes("jane")] == [ids["episode2"]]


def test_a_duplicate_user_is_refused(store: GraphStore) -> None:
    store.add_user(User(user_id="jane"))
    with pytest.raises(AlreadyExistsError):
        store.add_user(User(user_id="jane"))


def test_a_store_reopened_keeps_records_vectors_and_tasks(store_factory: StoreFactory, request: pytest.FixtureRequest
                                                          ) -> None:
    """Only for backends that persist: reopening sees what was committed, including owed vectors."""
    store = store_factory()
    path = getattr(store, "path", None)
    if path is None or request.node.callspec.params["store_factory"] == "embedded-exact":
        pytest.skip("the exact index keeps vectors in process memory only")
    seed_user(store, "jane", "kayak")
    drain(store)
    store.save_entity(Entity(uuid="owed", user_id="jane", name="Owed", type="Thing"))
    index = store.index  # type: ignore[attr-defined]
    store.close()
    from agent_memory.storage.embedded import EmbeddedStore

    persist_dir = getattr(index, "persist_dir", None)
    reopened = EmbeddedStore(path, type(index).persistent(persist_dir)) if persist_dir else None
    if reopened is None:
        pytest.skip("a server-backed index is reopened by its own test")
    try:
        assert [t.uuid for t in reopened.vector_tasks(10)] == ["owed"]
        assert reopened.count_vectors("jane", "episode") == 2
        assert reopened.reconcile().repaired == 0
    finally:
        reopened.close()
    time.sleep(0)


def test_mentions_of_types_are_the_users_mentions_of_entities_of_those_types(store: GraphStore) -> None:
    ids = {u: seed_user(store, u, u) for u in ("jane", "bob")}
    for uid, r in ids.items():
        store.add_mentions(uid, [(r["entity"], r["episode"]), (r["entity2"], r["episode"]),
                                 (r["entity2"], r["episode2"])])
    jane, bob = ids["jane"], ids["bob"]
    assert sorted(store.mentions_of_types("jane", ["Place"])) == sorted(
        [(jane["entity2"], jane["episode"]), (jane["entity2"], jane["episode2"])])
    assert sorted(store.mentions_of_types("jane", ["Person", "Place"])) == sorted(
        [(jane["entity"], jane["episode"]), (jane["entity2"], jane["episode"]), (jane["entity2"], jane["episode2"])])
    assert store.mentions_of_types("bob", ["Person"]) == [(bob["entity"], bob["episode"])]  # never Jane's
    assert store.mentions_of_types("jane", ["Work"]) == []
    assert store.mentions_of_types("jane", []) == []
    assert store.mentions_of_types("nobody", ["Place"]) == []


def test_mention_stats_of_some_entities_are_theirs_among_all(store: GraphStore) -> None:
    ids = {u: seed_user(store, u, u) for u in ("jane", "bob")}
    jane = ids["jane"]
    store.add_thread(Thread(thread_id="jane-t2", user_id="jane"))
    later = Episode(user_id="jane", thread_id="jane-t2", source=EpisodeSource.message, content="again",
                    reference_time=T0 + timedelta(days=1))
    store.add_episodes([later])
    store.add_mentions("jane", [(jane["entity"], jane["episode"]), (jane["entity"], later.uuid),
                                (jane["entity2"], jane["episode"]), (jane["entity2"], jane["episode2"]),
                                (jane["entity2"], later.uuid)])
    store.add_mentions("bob", [(ids["bob"]["entity"], ids["bob"]["episode"])])
    every = store.mention_stats("jane", min_threads=1, limit=10)
    assert [(s.entity_uuid, s.mentions, s.threads) for s in every] == [(jane["entity2"], 3, 2), (jane["entity"], 2, 2)]
    assert sorted(every[0].sessions) == ["jane-t", "jane-t2"] and every[0].last_seen == later.reference_time
    assert store.mention_stats("jane", min_threads=1, limit=10, entity_uuids=[jane["entity"]]) == [every[1]]
    assert store.mention_stats("jane", min_threads=3, limit=10, entity_uuids=[jane["entity"]]) == []
    assert store.mention_stats("jane", min_threads=1, limit=10, entity_uuids=[ids["bob"]["entity"]]) == []
    assert store.mention_stats("jane", min_threads=1, limit=10, entity_uuids=[]) == []
