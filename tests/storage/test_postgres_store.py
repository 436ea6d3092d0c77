"""PostgresStore against a real PostgreSQL 18 + pgvector: scoping, outbox, search, deletion, concurrency."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest

from agent_memory._time import utcnow
from agent_memory.errors import (
    AlreadyExistsError,
    ConfigError,
    DimensionMismatchError,
    InvalidInputError,
    MigrationError,
    StorageError,
)
from agent_memory.models import Entity, Episode, Fact, Observation, Thread, User
from agent_memory.storage.base import GraphStore
from agent_memory.storage.postgres import PostgresStore
from agent_memory.storage.postgres import search as pg_search

pytestmark = pytest.mark.slow  # starts a PostgreSQL server (once per session)


@pytest.fixture
def store(postgres_url: str) -> Iterator[PostgresStore]:
    made = PostgresStore(postgres_url)
    yield made
    made.close()


def _episodes(user: str, thread: str | None, texts: list[str]) -> list[Episode]:
    start = utcnow()
    return [Episode(user_id=user, thread_id=thread, source="message", role="user", content=t,
                    reference_time=start + timedelta(seconds=i)) for i, t in enumerate(texts)]


def _unit(i: int, dim: int = 8) -> np.ndarray:
    v = np.zeros(dim, dtype=np.float32)
    v[i] = 1.0
    return v


def _seed(store: PostgresStore, user: str = "jane") -> list[Episode]:
    store.add_user(User(user_id=user))
    store.add_thread(Thread(thread_id=f"{user}-t", user_id=user))
    eps = _episodes(user, f"{user}-t", ["I moved to Denver last week", "I run every morning", "My sister is Priya"])
    store.add_episodes(eps)
    return eps


def test_it_is_a_graph_store(store: PostgresStore) -> None:
    assert isinstance(store, GraphStore)


def test_records_are_scoped_by_user(store: PostgresStore) -> None:
    jane, bob = _seed(store, "jane"), _seed(store, "bob")
    ent = Entity(user_id="jane", name="Denver", type="Place")
    store.save_entity(ent)
    fact = Fact(user_id="jane", source_uuid=ent.uuid, target_uuid=ent.uuid, relation="LIVES_IN",
                fact="Jane lives in Denver", episodes=[jane[0].uuid])
    store.save_fact(fact)
    obs = store.save_observation(Observation(user_id="jane", key="k", text="talks about Denver",
                                             first_seen=utcnow(), last_seen=utcnow()))
    store.write_vectors("jane", "episode", [e.uuid for e in jane], np.stack([_unit(i) for i in range(3)]))
    # bob asks with jane's ids: nothing comes back
    assert store.get_episodes("bob", [e.uuid for e in jane]) == []
    assert store.get_entities("bob", [ent.uuid]) == []
    assert store.get_facts("bob", [fact.uuid]) == []
    assert store.get_observations("bob", [obs.uuid]) == []
    assert store.facts_of_episodes("bob", [jane[0].uuid]) == {}
    assert [u for u, _ in store.search_text("bob", "episode", "Denver")] == [bob[0].uuid]
    assert store.search_text("bob", "fact", "Denver") == [] and store.search_text("bob", "entity", "Denver") == []
    assert store.search_vectors("bob", "episode", _unit(0).reshape(1, -1), 5) == [[]]
    assert store.delete_episode("bob", jane[0].uuid) == []
    assert store.get_episodes("jane", [jane[0].uuid])  # still there
    # bob cannot overwrite jane's records by reusing their ids
    store.save_fact(fact.model_copy(update={"user_id": "bob", "fact": "Bob was here"}))
    assert store.get_facts("jane", [fact.uuid])[0].fact == "Jane lives in Denver"
    store.write_vectors("bob", "episode", [jane[1].uuid], _unit(5).reshape(1, -1))
    assert store.search_vectors("jane", "episode", _unit(1).reshape(1, -1), 1)[0][0][0] == jane[1].uuid
    assert [e.uuid for e in store.get_episodes("bob", [bob[2].uuid, bob[0].uuid])] == [bob[2].uuid, bob[0].uuid]


def test_the_outbox_follows_records(store: PostgresStore) -> None:
    eps = _seed(store)
    assert {(t.kind, t.uuid) for t in store.vector_tasks()} == {("episode", e.uuid) for e in eps}
    store.write_vectors("jane", "episode", [e.uuid for e in eps], np.stack([_unit(i) for i in range(3)]))
    assert store.vector_tasks() == [] and store.count_vectors("jane", "episode") == 3
    ent = Entity(user_id="jane", name="Denver", type="Place")
    store.save_entity(ent)
    assert [(t.kind, t.uuid) for t in store.vector_tasks()] == [("entity", ent.uuid)]
    store.write_vectors("jane", "entity", [ent.uuid], _unit(0).reshape(1, -1))
    store.save_entity(ent.model_copy(update={"aliases": ["Mile High City"]}))  # not embedded: no new task
    assert store.vector_tasks() == []
    store.save_entity(ent.model_copy(update={"summary": "where Jane lives"}))  # embedded text changed
    assert [t.uuid for t in store.vector_tasks(user_id="jane")] == [ent.uuid]
    assert store.vector_tasks(user_id="bob") == []
    # a record deleted before its vector arrives: the write is skipped and the task settled
    gone = eps[0].uuid
    store.delete_episode("jane", gone)
    store.write_vectors("jane", "episode", [gone], _unit(4).reshape(1, -1))
    assert store.count_vectors("jane", "episode") == 2
    assert all(t.uuid != gone for t in store.vector_tasks())


def test_reconcile_queues_what_a_crash_lost(store: PostgresStore) -> None:
    eps = _seed(store)
    store.write_vectors("jane", "episode", [e.uuid for e in eps[:2]], np.stack([_unit(0), _unit(1)]))
    store._x("DELETE FROM vector_tasks")  # a crash between record and task cannot happen; simulate a lost task
    report = store.reconcile()
    assert report.queued["episode"] == 1 and report.repaired == 1
    assert [t.uuid for t in store.vector_tasks()] == [eps[2].uuid]
    assert store.reconcile().repaired == 0


def test_full_text_is_stemmed_and_ranked(store: PostgresStore) -> None:
    store.add_user(User(user_id="jane"))
    eps = _episodes("jane", None, ["I love running marathons", "Running late again, running out of time",
                                   "I moved to Denver"])
    store.add_episodes(eps)
    hits = store.search_text("jane", "episode", "runs")
    assert [u for u, _ in hits] == [eps[1].uuid, eps[0].uuid]  # stemmed; the denser match first
    assert hits[0][1] > hits[1][1] > 0
    assert store.search_text("jane", "episode", "the of and") == []  # only stop words
    # query syntax characters are only text
    hits = store.search_text("jane", "episode", "denver's (weather) & 'moving' | ! <->")
    assert [u for u, _ in hits] == [eps[2].uuid]


def test_full_text_through_a_users_own_rows_finds_what_the_index_finds(
        store: PostgresStore, monkeypatch: pytest.MonkeyPatch) -> None:
    words = ["running", "marathon", "denver", "sister", "coffee", "garden", "piano", "travel"]
    for n, user in enumerate(("jane", "bob")):
        store.add_user(User(user_id=user))
        eps = _episodes(user, None, [f"{words[i % 8]} and {words[(i * 3 + n) % 8]} on day {i}" for i in range(60)])
        store.add_episodes(eps)
        store.write_vectors(user, "episode", [e.uuid for e in eps], np.stack([_unit(i % 8) for i in range(60)]))
    queries = ["running in denver", "piano garden coffee", "travel", "day 7 marathon"]
    store._x("ANALYZE vectors_episode")  # the table's size, as autovacuum would record it
    monkeypatch.setattr(pg_search, "TEXT_SCAN_LIMIT", 10**6)  # every user counts as small: their own rows
    monkeypatch.setattr(pg_search, "HNSW_SHARE", 1.0)
    store._counts.clear()
    assert store._few("jane", "episode", pg_search.TEXT_SCAN_LIMIT)
    own_rows = [store.search_text("jane", "episode", q, 25) for q in queries]
    monkeypatch.setattr(pg_search, "TEXT_SCAN_LIMIT", 10)  # more than 10 records: the GIN index
    store._counts.clear()
    assert not store._few("jane", "episode", pg_search.TEXT_SCAN_LIMIT)
    indexed = [store.search_text("jane", "episode", q, 25) for q in queries]
    assert own_rows == indexed and all(indexed)  # same rows, same scores, same order
    jane = {e.uuid for e in store.list_episodes("jane", limit=100)}
    assert all(u in jane for hits in own_rows for u, _ in hits)


def test_vector_search_and_dimension(store: PostgresStore) -> None:
    eps = _seed(store)
    store.write_vectors("jane", "episode", [e.uuid for e in eps], np.stack([_unit(0), _unit(1), _unit(0) + _unit(1)]))
    hits = store.search_vectors("jane", "episode", np.stack([_unit(0), _unit(1)]), 2)
    assert [u for u, _ in hits[0]] == [eps[0].uuid, eps[2].uuid]
    assert hits[0][0][1] == pytest.approx(1.0) and hits[0][1][1] == pytest.approx(0.7071, abs=1e-3)
    assert [u for u, _ in hits[1]] == [eps[1].uuid, eps[2].uuid]
    with pytest.raises(DimensionMismatchError):
        store.write_vectors("jane", "episode", [eps[0].uuid], np.ones((1, 4), dtype=np.float32))
    with pytest.raises(DimensionMismatchError):
        store.search_vectors("jane", "episode", np.ones((1, 4), dtype=np.float32), 2)
    with pytest.raises(InvalidInputError):
        store.write_vectors("jane", "episode", [eps[0].uuid, eps[1].uuid], _unit(0).reshape(1, -1))


def _two_users_with_vectors(store: PostgresStore, n: int, *, seed: int) -> np.random.Generator:
    """jane and bob with ``n`` episodes each and random unit vectors; the generator, for the queries."""
    rng = np.random.default_rng(seed)
    for user in ("jane", "bob"):
        store.add_user(User(user_id=user))
        eps = _episodes(user, None, [f"message {i}" for i in range(n)])
        store.add_episodes(eps)
        vecs = rng.normal(size=(n, 16)).astype(np.float32)
        store.write_vectors(user, "episode", [e.uuid for e in eps], vecs / np.linalg.norm(vecs, axis=1, keepdims=True))
    return rng


def test_the_hnsw_path_finds_what_the_exact_path_finds(store: PostgresStore, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = _two_users_with_vectors(store, 300, seed=7)
    queries = rng.normal(size=(3, 16)).astype(np.float32)
    exact = store.search_vectors("jane", "episode", queries, 10)
    monkeypatch.setattr(pg_search, "EXACT_LIMIT", 10)
    store._counts.clear()
    assert store._hnsw_state("episode") == "missing"
    store.search_vectors("jane", "episode", queries, 10)  # starts building the index in the background
    assert store.build_vector_index("episode") in (True, False)
    deadline = time.monotonic() + 60
    while store._hnsw_state("episode") != "valid" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert store._use_hnsw("jane", "episode")  # built, valid, and jane holds half the table
    approx = store.search_vectors("jane", "episode", queries, 10)
    owned = {e.uuid for e in store.list_episodes("jane", limit=1000)}
    for a, b in zip(exact, approx):
        assert len(b) == 10 and {u for u, _ in b} <= owned  # the filtered HNSW scan keeps to jane's rows
        assert len({u for u, _ in a} & {u for u, _ in b}) >= 8



def test_entities_walk_the_graph_at_a_lower_count_than_episodes(store: PostgresStore,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A kind's own exact limit: entities (searched for a handful of hits) switch to their HNSW index while
    the same number of episodes is still scanned exactly; the walk finds what the scan finds."""
    rng = _two_users_with_vectors(store, 60, seed=3)
    ents = [Entity(user_id="jane", name=f"thing {i}", type="Object") for i in range(60)]
    for e in ents:
        store.save_entity(e)
    vecs = rng.normal(size=(60, 16)).astype(np.float32)
    store.write_vectors("jane", "entity", [e.uuid for e in ents], vecs / np.linalg.norm(vecs, axis=1, keepdims=True))
    queries = rng.normal(size=(3, 16)).astype(np.float32)
    exact = store.search_vectors("jane", "entity", queries, 5)
    assert store.build_vector_index("entity")
    monkeypatch.setattr(pg_search, "EXACT_LIMITS", {"entity": 10})
    store._counts.clear()
    assert pg_search.exact_limit("entity") == 10 and pg_search.exact_limit("episode") == pg_search.EXACT_LIMIT
    assert store._use_hnsw("jane", "entity") and not store._use_hnsw("jane", "episode")
    approx = store.search_vectors("jane", "entity", queries, 5)
    mine = {e.uuid for e in ents}
    for a, b in zip(exact, approx):
        assert len(b) == 5 and {u for u, _ in b} <= mine
        assert len({u for u, _ in a} & {u for u, _ in b}) >= 4


def test_an_hnsw_search_for_many_neighbours_walks_as_wide_as_it_returns(
        store: PostgresStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """k above pgvector's default ef_search (40): the walk keeps k candidates for that statement (recall
    near the exact search's), and the session's setting is left as it was."""
    rng = _two_users_with_vectors(store, 400, seed=11)
    queries = rng.normal(size=(4, 16)).astype(np.float32)
    exact = store.search_vectors("jane", "episode", queries, 120)
    assert store.build_vector_index("episode")
    monkeypatch.setattr(pg_search, "EXACT_LIMIT", 10)
    store._counts.clear()
    assert store._use_hnsw("jane", "episode")
    approx = store.search_vectors("jane", "episode", queries, 120)
    for a, b in zip(exact, approx):
        assert len(b) == 120
        found, truth = dict(b), dict(a)
        assert len(found.keys() & truth.keys()) >= 114  # 95%
        assert all(found[u] == truth[u] for u in found.keys() & truth.keys())  # exact cosines either way
    with store._borrow() as conn:
        assert conn.execute("SHOW hnsw.ef_search").fetchone() == {"hnsw.ef_search": "40"}

def test_delete_user_leaves_no_row(store: PostgresStore) -> None:
    eps = _seed(store, "jane")
    _seed(store, "bob")
    ent = Entity(user_id="jane", name="Denver", type="Place")
    store.save_entity(ent)
    store.save_fact(Fact(user_id="jane", source_uuid=ent.uuid, target_uuid=ent.uuid, relation="LIVES_IN",
                         fact="Jane lives in Denver", episodes=[eps[0].uuid]))
    store.add_mentions("jane", [(ent.uuid, eps[0].uuid)])
    store.save_observation(Observation(user_id="jane", key="k", text="t", first_seen=utcnow(), last_seen=utcnow()))
    store.record_llm_call(purpose="extract", model="m", prompt_tokens=1, completion_tokens=1, latency_ms=1.0, ok=True,
                          error=None, attempt=1, episodes=[eps[0].uuid], created_at=utcnow())
    store.write_vectors("jane", "episode", [e.uuid for e in eps], np.stack([_unit(i) for i in range(3)]))
    store.delete_user("jane")
    store.purge()
    tables = [r["table_name"] for r in store._all(
        "SELECT table_name FROM information_schema.columns WHERE table_schema=%s AND column_name='user_id'",
        (store.schema,))]
    assert len(tables) >= 14
    for table in tables:
        assert store._scalar(f"SELECT count(*) FROM {table} WHERE user_id='jane'") == 0, table
    assert store._scalar("SELECT count(*) FROM llm_call_episodes") == 0
    assert store.count_episodes("bob") == 3 and store.get_user("bob") is not None


def test_atomic_rolls_back_and_keeps_other_threads_apart(store: PostgresStore) -> None:
    store.add_user(User(user_id="jane"))
    with pytest.raises(RuntimeError), store.atomic():
        store.add_episodes(_episodes("jane", None, ["first"]))
        raise RuntimeError("boom")
    assert store.count_episodes("jane") == 0 and store.vector_tasks() == []
    seen: list[int] = []
    with store.atomic():
        store.add_episodes(_episodes("jane", None, ["second"]))
        with pytest.raises(AlreadyExistsError):  # a savepoint: the outer transaction lives on
            store.add_user(User(user_id="jane"))
        reader = threading.Thread(target=lambda: seen.append(store.count_episodes("jane")))
        reader.start()
        reader.join(5)
        assert not reader.is_alive()  # not blocked by this open transaction
    assert seen == [0] and store.count_episodes("jane") == 1


def test_the_pool_hands_out_the_connection_returned_last(store: PostgresStore) -> None:
    # a context's statements then run on the same server process, whose caches are warm
    with store._borrow() as first, store._borrow() as second:
        pids = (first.info.backend_pid, second.info.backend_pid)
    assert pids[0] != pids[1]
    for _ in range(3):  # ``first`` went back last: it is the one handed out, every time
        with store._borrow() as again:
            assert again.info.backend_pid == pids[0]
        assert store._scalar("SELECT pg_backend_pid()") == pids[0]


def test_pooled_connections_carry_the_stores_settings(store: PostgresStore) -> None:
    with store._borrow() as first, store._borrow() as second:  # the first connection and one opened later
        for conn in (first, second):
            shown = {name: conn.execute(f"SHOW {name}").fetchone()[name] for name in  # type: ignore[index]
                     ("search_path", "TimeZone", "random_page_cost", "hnsw.iterative_scan")}
            assert shown["search_path"].split(",")[0].strip('" ') == store.schema
            assert (shown["TimeZone"], shown["random_page_cost"], shown["hnsw.iterative_scan"]) == \
                ("UTC", "1.1", "strict_order")


def test_a_failed_statement_gives_back_a_clean_connection(store: PostgresStore) -> None:
    store.add_user(User(user_id="jane"))
    with pytest.raises(AlreadyExistsError):  # outside a transaction
        store.add_user(User(user_id="jane"))
    with pytest.raises(RuntimeError), store._borrow() as conn:  # a block that fails inside a transaction
        conn.execute("BEGIN")
        conn.execute("INSERT INTO threads (thread_id, user_id, created_at) VALUES ('t-open', 'jane', now())")
        raise RuntimeError("boom")
    with store._borrow() as conn:  # the same connection (returned last), rolled back by the pool
        assert conn.info.transaction_status == conn.info.transaction_status.IDLE
    assert store.get_thread("t-open") is None and store.get_user("jane") is not None
    assert store._x("UPDATE users SET summary = 's' WHERE user_id = 'jane'") is None  # no rows: nothing to read


def test_a_second_store_sees_writes_at_once(store: PostgresStore, postgres_url: str) -> None:
    other = PostgresStore(postgres_url)
    try:
        eps = _seed(store)
        store.write_vectors("jane", "episode", [e.uuid for e in eps], np.stack([_unit(i) for i in range(3)]))
        assert other.search_vectors("jane", "episode", _unit(2).reshape(1, -1), 1)[0][0][0] == eps[2].uuid
        assert other.search_text("jane", "episode", "sister")[0][0] == eps[2].uuid
    finally:
        other.close()


def test_claim_user_is_exclusive_across_stores(store: PostgresStore, postgres_url: str) -> None:
    other = PostgresStore(postgres_url)
    order: list[str] = []
    try:
        with store.claim_user("jane"):
            waiter = threading.Thread(target=lambda: _claim(other, "jane", order))
            waiter.start()
            time.sleep(0.3)
            with other.claim_user("bob"):  # another user is not held up
                order.append("bob")
            order.append("first done")
        waiter.join(5)
        assert order == ["bob", "first done", "second"]
    finally:
        other.close()


def _claim(store: PostgresStore, user: str, order: list[str]) -> None:
    with store.claim_user(user):
        order.append("second")


def _open(url: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        store = PostgresStore(url)
        queue.put(store.schema_version)
        store.close()
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        queue.put(repr(exc))


def test_migrations_run_once_however_many_processes_open(postgres_url: str) -> None:
    ctx = mp.get_context("fork")  # the parent holds no connection here
    queue = ctx.Queue()
    procs = [ctx.Process(target=_open, args=(postgres_url, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    store = PostgresStore(postgres_url)
    try:
        assert results == [store.schema_version] * 4
        versions = [r["version"] for r in store._all("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == list(range(1, store.schema_version + 1))
    finally:
        store.close()


def test_a_newer_schema_is_refused(store: PostgresStore, postgres_url: str) -> None:
    store._x("INSERT INTO schema_migrations VALUES (999, 'future', now())")
    with pytest.raises(MigrationError, match="newer"):
        PostgresStore(postgres_url)


def test_schemas_keep_deployments_apart(postgres_server: str) -> None:
    from agent_memory.testing.postgres_server import drop_schema

    a, b = PostgresStore(postgres_server, schema="deploy_a"), PostgresStore(postgres_server, schema="deploy_b")
    try:
        a.add_user(User(user_id="jane"))
        assert b.get_user("jane") is None and a.get_user("jane") is not None
    finally:
        a.close()
        b.close()
        drop_schema(postgres_server, "deploy_a")
        drop_schema(postgres_server, "deploy_b")


def test_bad_urls_and_values_say_what_to_fix(store: PostgresStore, tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="postgresql://"):
        PostgresStore("mysql://localhost/db")
    with pytest.raises(ConfigError, match="schema"):
        PostgresStore("postgresql://localhost/db", schema="drop table; --")
    with pytest.raises(StorageError, match="cannot connect"):
        PostgresStore(f"postgresql://postgres@/postgres?host={tmp_path}", connect_timeout=2)
    store.add_user(User(user_id="jane"))
    with pytest.raises(InvalidInputError):
        store.add_episodes(_episodes("jane", None, ["a NUL \x00 byte"]))
    assert store.count_episodes("jane") == 0


def test_an_edit_during_embedding_keeps_its_task(store: PostgresStore) -> None:
    store.add_user(User(user_id="jane"))
    ent = Entity(user_id="jane", name="Denver", type="Place")
    store.save_entity(ent)
    [task] = store.vector_tasks()
    store.save_entity(ent.model_copy(update={"summary": "where Jane lives"}))  # edited while being embedded
    store.write_vectors("jane", "entity", [ent.uuid], _unit(0).reshape(1, -1), queued_before=task.seq)
    [again] = store.vector_tasks()
    assert again.uuid == ent.uuid and again.seq > task.seq and store.count_vectors("jane", "entity") == 1
    store.write_vectors("jane", "entity", [ent.uuid], _unit(1).reshape(1, -1), queued_before=again.seq)
    assert store.vector_tasks() == []


def test_delete_user_waits_for_a_run_in_another_process_and_no_episode_outlives_it(
        store: PostgresStore, postgres_url: str) -> None:
    other = PostgresStore(postgres_url)
    try:
        _seed(store, "jane")
        done: list[str] = []
        with other.claim_user("jane"):  # another process is ingesting jane
            deleter = threading.Thread(target=lambda: (store.delete_user("jane"), done.append("deleted")))
            deleter.start()
            time.sleep(0.5)
            assert done == []  # the delete waits for the run
        deleter.join(10)
        assert done == ["deleted"] and store.count_episodes("jane") == 0
        with pytest.raises(InvalidInputError):  # a message for the deleted user cannot sneak in
            other.add_episodes(_episodes("jane", None, ["late message"]))
        assert other._scalar("SELECT count(*) FROM episodes WHERE user_id='jane'") == 0
    finally:
        other.close()


def test_reindex_with_an_embedder_of_another_size(store: PostgresStore) -> None:
    from agent_memory.ingest.reindex import reindex
    from agent_memory.testing.fakes import HashEmbedder

    from agent_memory.models import EpisodeStatus

    eps = _seed(store)
    for ep in eps:
        store.set_episode_status("jane", ep.uuid, EpisodeStatus.processed)
    store.write_vectors("jane", "episode", [e.uuid for e in eps], np.stack([_unit(i) for i in range(3)]))
    report = reindex(store, HashEmbedder(32))
    assert report.after and store.count_vectors("jane", "episode") == 3 and store.vector_tasks() == []
    hits = store.search_vectors("jane", "episode", HashEmbedder(32).embed_batch(["My sister is Priya"]), 1)
    assert hits[0][0][0] == eps[2].uuid
