"""Batched reads (one round trip on PostgreSQL) return exactly what the one-at-a-time reads return.

The retriever uses them to build a context block; the block must not depend on the backend, so each
batched read is pinned here against the plain reads it replaces, on every backend.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from agent_memory.models import Entity, Episode, EpisodeSource, EpisodeStatus, Fact, Role, Thread, User
from agent_memory.storage.base import GraphStore

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)


def _episodes(store: GraphStore) -> dict[str, Episode]:
    """Jane: a thread with a tie (two turns at one time, added in order), a thread of one turn, and a
    text without a thread; Bob: a thread of two turns."""
    for uid in ("jane", "bob"):
        store.add_user(User(user_id=uid))
    for tid, uid in (("t1", "jane"), ("t2", "jane"), ("tb", "bob")):
        store.add_thread(Thread(thread_id=tid, user_id=uid))

    def ep(name: str, uid: str, tid: str | None, minutes: int) -> Episode:
        return Episode(uuid=name, user_id=uid, thread_id=tid,
                       source=EpisodeSource.message if tid else EpisodeSource.text,
                       content=f"turn {name}", reference_time=T0 + timedelta(minutes=minutes))

    eps = [ep("a", "jane", "t1", 0), ep("b", "jane", "t1", 1), ep("c", "jane", "t1", 1), ep("d", "jane", "t1", 2),
           ep("e", "jane", "t2", 5), ep("f", "jane", None, 1), ep("g", "bob", "tb", 0), ep("h", "bob", "tb", 1)]
    store.add_episodes([e for e in eps if e.user_id == "jane"])
    store.add_episodes([e for e in eps if e.user_id == "bob"])
    return {e.uuid: e for e in eps}


def _remote(store: GraphStore) -> bool:
    """A store behind a server (PostgreSQL): reads that save a round trip carry everything they can."""
    return type(store).__name__ == "PostgresStore"


def _one_at_a_time(store: GraphStore, user_id: str, ep: Episode) -> list[Episode]:
    """What the retriever read before: two list_episodes calls per episode."""
    assert ep.thread_id is not None
    return (store.list_episodes(user_id, thread_id=ep.thread_id, until=ep.reference_time, limit=1, newest_first=True)
            + store.list_episodes(user_id, thread_id=ep.thread_id, since=ep.reference_time + timedelta(microseconds=1),
                                  limit=1))


def test_adjacent_episodes_are_the_neighbours_in_the_thread(store: GraphStore) -> None:
    eps = _episodes(store)
    got = store.adjacent_episodes("jane", ["d", "a", "b", "c", "e", "f", "g", "nope", "a"])
    assert {k: [e.uuid for e in v] for k, v in got.items()} == {
        "a": ["b"],  # nothing before; after: the first of the two turns at minute 1
        "b": ["a", "d"], "c": ["a", "d"],  # a tie is neither before nor after
        "d": ["c"],  # before: the later-added of the tie
    }  # e is alone in its thread, f has none, g is Bob's, "nope" does not exist
    for uid, near in got.items():
        assert near == _one_at_a_time(store, "jane", eps[uid])  # whole records, as list_episodes reads them
    assert store.adjacent_episodes("bob", ["a", "b"]) == {}
    assert store.adjacent_episodes("bob", ["g"])["g"] == [store.get_episodes("bob", ["h"])[0]]
    assert store.adjacent_episodes("jane", []) == {}


def test_episodes_read_back_are_the_records_written(store: GraphStore) -> None:
    eps = _episodes(store)  # (PostgreSQL builds them without validating again: same types, same values)
    got = store.get_episodes("jane", list("fedcba"))
    assert [e.model_dump(mode="json") for e in got] == [eps[u].model_dump(mode="json") for u in "fedcba"]
    assert got == [eps[u] for u in "fedcba"] and [repr(e) for e in got] == [repr(eps[u]) for u in "fedcba"]
    assert got[0].model_copy(update={"content": "edited"}).content == "edited" and got[0].content == "turn f"
    assert all(isinstance(e.source, EpisodeSource) and isinstance(e.status, EpisodeStatus)
               and e.reference_time.tzinfo == timezone.utc and e.ingested_at.tzinfo == timezone.utc for e in got)


def test_get_facts_and_facts_touching_carry_names_and_provenance_in_time_order(store: GraphStore) -> None:
    _episodes(store)
    a = Entity(uuid="ea", user_id="jane", name="Jane", type="Person")
    b = Entity(uuid="eb", user_id="jane", name="Lisbon", type="Place")
    for e in (a, b):
        store.save_entity(e)
    store.save_fact(Fact(uuid="f1", user_id="jane", source_uuid="ea", target_uuid="eb", relation="LIVES_IN",
                         fact="Jane lives in Lisbon", episodes=["d", "a", "c"]))
    store.save_fact(Fact(uuid="f2", user_id="jane", source_uuid="eb", target_uuid="ea", relation="HOME_OF",
                         fact="Lisbon is home to Jane", episodes=["e"]))
    facts = store.get_facts("jane", ["f2", "f1", "nope"])
    assert [f.uuid for f in facts] == ["f2", "f1"]
    assert (facts[1].source_name, facts[1].target_name, facts[1].episodes) == ("Jane", "Lisbon", ["a", "c", "d"])
    assert store.facts_touching("jane", ["eb"]) == store.get_facts("jane", [f.uuid for f in
                                                                             store.facts_touching("jane", ["eb"])])
    assert store.get_facts("bob", ["f1"]) == [] and store.facts_touching("bob", ["ea"]) == []


def test_episode_heads_are_what_ranking_reads_of_each_episode(store: GraphStore) -> None:
    eps = _episodes(store)
    store.add_episodes([Episode(uuid="long", user_id="jane", thread_id="t2", source=EpisodeSource.message,
                                role=Role.assistant, name="Support", content="ünïcode ✓ " * 40,
                                reference_time=T0 + timedelta(minutes=6))])
    eps["long"] = store.get_episodes("jane", ["long"])[0]
    heads = store.episode_heads("jane", ["long", "c", "nope", "a", "g", "b"])
    assert list(heads) == ["long", "c", "a", "b"]  # the order asked; unknown ids and Bob's "g" absent
    for uid, head in heads.items():
        ep = eps[uid]
        assert (head.uuid, head.thread_id, head.role, head.name, head.reference_time, head.length) == (
            ep.uuid, ep.thread_id, ep.role, ep.name, ep.reference_time, len(ep.content))  # characters, not bytes
    # seq follows the order episodes were added: the two turns sharing minute 1 keep b before c
    assert heads["a"].seq < heads["b"].seq < heads["c"].seq < heads["long"].seq
    assert heads["long"].role is Role.assistant and heads["long"].reference_time.tzinfo == timezone.utc
    assert store.episode_heads("bob", ["a", "long"]) == {} and store.episode_heads("jane", []) == {}


def test_adjacent_with_heads_are_the_neighbours_and_the_heads_of_each(store: GraphStore) -> None:
    _episodes(store)
    asked = ["d", "a", "b", "c", "e", "f", "g", "nope", "a"]
    adjacent, heads = store.adjacent_with_heads("jane", asked)
    assert adjacent == store.adjacent_episodes("jane", asked)
    returned = [e.uuid for near in adjacent.values() for e in near]
    assert set(returned) == {"a", "b", "c", "d"} and set(heads) <= set(returned)  # a server gives all (see below)
    assert heads == store.episode_heads("jane", sorted(heads))  # the heads a separate read gives, seq included
    if _remote(store):
        assert set(heads) == set(returned)
    assert store.adjacent_with_heads("bob", ["a", "b"]) == ({}, {})
    assert store.adjacent_with_heads("jane", []) == ({}, {})


def test_episode_text_search_carries_the_heads_of_its_hits(store: GraphStore) -> None:
    _episodes(store)
    store.add_episodes([
        Episode(uuid="trip", user_id="jane", thread_id="t2", source=EpisodeSource.message, role=Role.user,
                name="Jane", content="Planning a trip to Lisbon in the spring", reference_time=T0 + timedelta(hours=1)),
        Episode(uuid="bob-trip", user_id="bob", thread_id="tb", source=EpisodeSource.message,
                content="my trip to Lisbon", reference_time=T0 + timedelta(hours=1))])
    for query in ("trip to Lisbon", "turn", "spring turn"):
        hits, heads = store.search_episode_text("jane", query, 5)
        assert hits == store.search_text("jane", "episode", query, 5)  # the same hits, scores and order
        assert hits and heads == store.episode_heads("jane", [u for u in dict(hits) if u in heads])
        if _remote(store):  # one round trip for the hits and their heads
            assert list(heads) == [u for u, _ in hits]
    assert "bob-trip" not in dict(store.search_episode_text("jane", "trip to Lisbon", 5)[0])
    assert store.search_episode_text("jane", "the of", 5) == ([], {})  # no content word: nothing searched
    assert store.search_episode_text("nobody", "trip", 5) == ([], {})


def test_episode_text_search_among_a_name(store: GraphStore) -> None:
    """``among``: only the turns with the name (said by them, or about them) that share a word with the
    query, ranked with the name's words counted; a name's other turns and others' turns stay out."""
    for uid in ("jane", "bob"):
        store.add_user(User(user_id=uid))
    store.add_thread(Thread(thread_id="t", user_id="jane"))
    turns = {"j1": ("Joanna", "I made a quilt for a lady at my writing club"), "j2": ("Joanna", "Take care!"),
             "n1": ("Nate", "I made pasta for the club"), "n2": ("Nate", "Joanna loves her writing club"),
             "n3": ("Nate", "Turtles are great")}
    store.add_episodes([Episode(uuid=u, user_id="jane", thread_id="t", source=EpisodeSource.message, role=Role.user,
                                name=name, content=text, reference_time=T0 + timedelta(minutes=i))
                        for i, (u, (name, text)) in enumerate(turns.items())])
    store.add_episodes([Episode(uuid="b1", user_id="bob", source=EpisodeSource.text,
                                content="Joanna: I made a writing club quilt", reference_time=T0)])
    hits, heads = store.search_episode_text("jane", "made for the writing club", 5, among=["Joanna"])
    assert {u for u, _ in hits} == {"j1", "n2"}  # Joanna's turn on it, and Nate's about her
    assert all(s > 0 for _, s in hits) and hits == sorted(hits, key=lambda h: -h[1])
    assert set(heads) <= {"j1", "n2"}
    plain, _ = store.search_episode_text("jane", "made for the writing club", 5)
    assert {u for u, _ in plain} == {"j1", "n1", "n2"}  # without it: every turn sharing a word
    assert store.search_episode_text("jane", "made for the writing club", 5, among=["the"]) == \
        store.search_episode_text("jane", "made for the writing club", 5)  # no content word: no filter
    assert store.search_episode_text("jane", "turtles", 5, among=["Joanna"]) == ([], {})


def test_thread_openers_are_each_threads_first_turns_of_that_user(store: GraphStore) -> None:
    _episodes(store)
    assert store.thread_openers("jane", ["t1", "t2", "t1", "tb", "none"], 2) == {
        "t1": ["a", "b"],  # by time, the tie at minute 1 in the order added
        "t2": ["e"],  # a thread of one turn
    }  # Bob's thread is not Jane's to read; an unknown thread has no turns
    assert store.thread_openers("jane", ["t1"], 3) == {"t1": ["a", "b", "c"]}
    assert store.thread_openers("bob", ["tb", "t1"], 1) == {"tb": ["g"]}
    assert store.thread_openers("jane", [], 2) == {}
    assert store.thread_openers("jane", ["t1"], 0) == {}
