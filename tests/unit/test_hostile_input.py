"""Issue 12's careless and hostile inputs through the Python API: each is a typed error that says what to
fix, and a refused call stores nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from agent_memory import Memory, Message
from agent_memory.config import MemoryConfig
from agent_memory.errors import (
    ConfigError,
    EmptyContentError,
    InvalidInputError,
    InvalidJSONError,
    InvalidTimestampError,
    StorageError,
)
from agent_memory.models import EpisodeStatus


def _stored(memory: Memory) -> list[str]:
    return [e.content for e in memory.graph.episodes(user_id="jane")]


def _deep(levels: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(levels):
        node["a"] = {}
        node = node["a"]
    return root


# -- a poison id must not stop a user ------------------------------------------------------------

@pytest.mark.parametrize("bad", ["", "   ", "\t\n", " m1", "m1 ", "m\u200b1", "m\x001", "x" * 257, "\ud800"])
def test_a_bad_message_id_is_refused_and_nothing_is_stored(memory: Memory, bad: str) -> None:
    with pytest.raises(InvalidInputError, match="uuid"):
        Message(uuid=bad, role="user", content="hello")
    with pytest.raises(InvalidInputError, match="uuid"):
        memory.thread.add_messages("t1", messages=[{"role": "user", "content": "first"},
                                                   {"uuid": bad, "role": "user", "content": "hello"}])
    assert _stored(memory) == []
    memory.thread.add_messages("t1", messages=[Message(role="user", content="I | LIVES_IN | Oslo")])
    memory.wait_until_processed("jane")
    assert memory.graph.retry_failed(user_id="jane") == 0
    assert [e.status for e in memory.graph.episodes(user_id="jane")] == [EpisodeStatus.processed]


def test_a_message_changed_after_it_was_built_is_checked_again(memory: Memory) -> None:
    msg = Message(role="user", content="hello")
    msg.uuid = ""  # models do not validate assignment: add_messages validates afresh
    with pytest.raises(InvalidInputError, match="uuid"):
        memory.thread.add_messages("t1", messages=[msg])
    msg.uuid, msg.metadata = "ok-id", {"self": None}
    msg.metadata["self"] = msg.metadata
    with pytest.raises(InvalidInputError, match="circular"):
        memory.thread.add_messages("t1", messages=[msg])
    assert _stored(memory) == []


def test_an_episode_that_cannot_be_processed_is_marked_failed_and_does_not_block_the_others() -> None:
    """A poison episode stored by an older version (blank id): the rest of the user's queue still goes through."""
    from agent_memory.models import Episode, EpisodeSource
    from agent_memory.storage.embedded import EmbeddedStore
    from agent_memory.storage.inmemory import ExactIndex
    from agent_memory.testing.extractors import TripleExtractor
    from agent_memory.testing.fakes import HashEmbedder

    store = EmbeddedStore(":memory:", ExactIndex())
    with Memory.ephemeral(store=store, embedder=HashEmbedder(), extractor=TripleExtractor(),
                          config=MemoryConfig(home=None, vector_backend="exact", ingest_mode="background")) as mem:
        mem.user.add(user_id="jane", first_name="Jane")
        mem.thread.create(thread_id="t1", user_id="jane")
        old = datetime(2024, 1, 1, tzinfo=timezone.utc)
        store.add_episodes([Episode(uuid="", user_id="jane", thread_id="t1", source=EpisodeSource.message,
                                    content="I | LIVES_IN | Rome", reference_time=old)])
        mem.thread.add_messages("t1", messages=[Message(role="user", content="I | LIVES_IN | Oslo"),
                                                Message(role="user", content="I | LIKES | jazz")])
        mem.wait_until_processed("jane", timeout=30)
        by_content = {e.content: e for e in mem.graph.episodes(user_id="jane")}
        # settled (its text is stored and searchable by words; a blank id cannot hold a vector), not stuck
        assert by_content["I | LIVES_IN | Rome"].status is not EpisodeStatus.pending
        assert by_content["I | LIVES_IN | Oslo"].status is EpisodeStatus.processed
        assert by_content["I | LIKES | jazz"].status is EpisodeStatus.processed
        assert {f.target_name for f in mem.graph.facts(user_id="jane")} >= {"Oslo", "jazz"}


# -- ids, text and names ---------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["", "   ", " jane2", "jane2 ", "ja\u200bne", "ja\nne", "\ud800", "x" * 257, 5, None])
def test_bad_user_and_thread_ids_are_refused(memory: Memory, bad: Any) -> None:
    with pytest.raises(InvalidInputError):
        memory.user.add(user_id=bad)
    with pytest.raises(InvalidInputError):
        memory.thread.create(thread_id=bad, user_id="jane")
    assert [u.user_id for u in memory.user.list()] == ["jane"]
    assert [t.thread_id for t in memory.thread.list(user_id="jane")] == ["t1"]


@pytest.mark.parametrize("content", ["\u200b", "\u200b\u200c\u200d\ufeff", " \u2060 ", "\x00\x01", "\u2028"])
def test_invisible_only_content_is_empty(memory: Memory, content: str) -> None:
    with pytest.raises(EmptyContentError, match="invisible"):
        memory.thread.add_messages("t1", messages=[Message(role="user", content=content)])
    with pytest.raises(EmptyContentError):
        memory.graph.add(user_id="jane", type="text", data=content)
    assert _stored(memory) == []


def test_lone_surrogates_are_refused_everywhere(memory: Memory) -> None:
    bad = "caf\udce9"
    with pytest.raises(InvalidInputError, match="surrogate"):
        memory.thread.add_messages("t1", messages=[Message(role="user", content=bad)])
    with pytest.raises(InvalidInputError, match="surrogate"):
        memory.thread.add_messages("t1", messages=[Message(role="user", content="ok", name=bad)])
    with pytest.raises(InvalidInputError, match="surrogate"):
        memory.thread.add_messages("t1", messages=[Message(role="user", content="ok", metadata={"k": bad})])
    with pytest.raises(InvalidInputError, match="surrogate"):
        memory.graph.add(user_id="jane", type="text", data=bad)
    with pytest.raises(InvalidInputError, match="surrogate"):
        memory.user.add(user_id="bob", first_name=bad)
    with pytest.raises(InvalidInputError, match="surrogate"):
        memory.graph.search(user_id="jane", query=bad)
    with pytest.raises(InvalidInputError, match="surrogate"):
        memory.context.get(user_id="jane", query=bad)
    with pytest.raises(InvalidInputError, match="surrogate"):
        memory.graph.facts(user_id="jane", relation=bad)
    assert _stored(memory) == [] and [u.user_id for u in memory.user.list()] == ["jane"]


def test_a_name_is_one_line(memory: Memory) -> None:
    with pytest.raises(InvalidInputError, match="one line"):
        Message(role="user", content="hi", name="Support\n- Admin")
    with pytest.raises(InvalidInputError, match="one line"):
        memory.user.add(user_id="eve", first_name="Eve\nAdmin")


# -- nesting and circular data ---------------------------------------------------------------------

def test_deep_json_and_metadata_are_refused(memory: Memory) -> None:
    with pytest.raises(InvalidJSONError, match="nested"):
        memory.graph.add(user_id="jane", type="json", data="[" * 10_000 + "]" * 10_000)
    with pytest.raises(InvalidJSONError, match="nested"):
        memory.graph.add(user_id="jane", type="json", data='{"a": ' * 10_000 + "1" + "}" * 10_000)
    with pytest.raises(InvalidJSONError, match="nested"):
        memory.graph.add(user_id="jane", type="json", data=_deep(10_000))
    with pytest.raises(InvalidInputError, match="nested"):
        memory.thread.add_messages("t1", messages=[Message(role="user", content="hi", metadata=_deep(10_000))])
    with pytest.raises(InvalidInputError, match="nested"):
        memory.graph.add(user_id="jane", type="text", data="hi", metadata=_deep(5_000))
    with pytest.raises(InvalidInputError, match="nested"):
        memory.user.add(user_id="bob", metadata=_deep(10_000))
    assert _stored(memory) == []
    memory.graph.add(user_id="jane", type="json", data=_deep(20))  # a reasonable depth is fine


def test_circular_and_non_json_metadata_are_refused(memory: Memory) -> None:
    loop: dict[str, Any] = {}
    loop["me"] = loop
    listed: list[Any] = []
    listed.append(listed)
    for bad, why in [(loop, "circular"), ({"x": listed}, "circular"), ({"x": float("nan")}, "finite"),
                     ({"x": 10**30}, "64 bits"), ({1: "x"}, "keys must be strings"), ({"x": object()}, "JSON")]:
        with pytest.raises(InvalidInputError, match=why):
            memory.thread.add_messages("t1", messages=[Message(role="user", content="hi", metadata=bad)])
        with pytest.raises(InvalidInputError, match=why):
            memory.graph.add(user_id="jane", type="text", data="hi", metadata=bad)
    shared = {"k": 1}
    memory.graph.add(user_id="jane", type="text", data="hi", metadata={"a": shared, "b": shared})  # not a cycle
    assert _stored(memory) == ["hi"]


# -- timestamps ------------------------------------------------------------------------------------

OVERFLOWING = ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+05:00",
               datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
               datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))]


@pytest.mark.parametrize("stamp", [*OVERFLOWING, "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
                                   "0999-12-31T23:59:59Z"])
def test_timestamps_at_the_ends_of_time_are_refused(memory: Memory, stamp: Any) -> None:
    with pytest.raises(InvalidTimestampError):
        Message(role="user", content="hi", created_at=stamp)
    with pytest.raises(InvalidTimestampError):
        memory.graph.add(user_id="jane", type="text", data="hi", created_at=stamp)
    assert _stored(memory) == []


@pytest.mark.parametrize("stamp", OVERFLOWING)
def test_a_filter_time_that_overflows_utc_is_refused(memory: Memory, stamp: Any) -> None:
    with pytest.raises(InvalidTimestampError, match="UTC"):
        memory.graph.facts(user_id="jane", as_of=stamp)
    with pytest.raises(InvalidTimestampError, match="UTC"):
        memory.graph.search(user_id="jane", query="x", filters={"as_of": stamp})


def test_naive_times_in_search_filters_are_refused(memory: Memory) -> None:
    from agent_memory.retrieval.search import SearchFilters

    naive = datetime(2024, 1, 1)
    for filters in ({"as_of": naive}, {"since": "2024-01-01T00:00:00"}, SearchFilters(as_of=naive),
                    SearchFilters(until=naive)):
        with pytest.raises(InvalidTimestampError, match="timezone|RFC 3339"):
            memory.graph.search(user_id="jane", query="x", filters=filters)
    with pytest.raises(InvalidInputError, match="filters"):
        memory.graph.search(user_id="jane", query="x", filters={"colour": "red"})
    with pytest.raises(InvalidInputError, match="filters"):
        memory.graph.search(user_id="jane", query="x", filters="valid_only")  # type: ignore[arg-type]
    aware = memory.graph.search(user_id="jane", query="x", filters={"as_of": "2024-01-01T00:00:00+02:00"})
    assert aware == []


# -- counts and budgets ----------------------------------------------------------------------------

@pytest.mark.parametrize("limit", [10**20, None, 2.5, -1, 0, "5", True])
def test_bad_limits_are_refused(memory: Memory, limit: Any) -> None:
    calls = [lambda: memory.graph.facts(user_id="jane", limit=limit),
             lambda: memory.graph.episodes(user_id="jane", limit=limit),
             lambda: memory.graph.entities(user_id="jane", limit=limit),
             lambda: memory.graph.observations(user_id="jane", limit=limit),
             lambda: memory.user.list(limit=limit),
             lambda: memory.thread.list(user_id="jane", limit=limit),
             lambda: memory.graph.search(user_id="jane", query="x", limit=limit)]
    if limit is not None:
        calls.append(lambda: memory.thread.get_messages("t1", last=limit))
    for call in calls:
        with pytest.raises(InvalidInputError, match="limit|last"):
            call()


@pytest.mark.parametrize("offset", [-1, 10**20, 1.5, "0", None])
def test_bad_offsets_are_refused(memory: Memory, offset: Any) -> None:
    with pytest.raises(InvalidInputError, match="offset"):
        memory.graph.facts(user_id="jane", offset=offset)
    with pytest.raises(InvalidInputError, match="offset"):
        memory.user.list(offset=offset)


@pytest.mark.parametrize("budget", ["x", 0, -1, -5, 10, True, 2.5, 10**20])
def test_bad_token_budgets_are_refused(memory: Memory, budget: Any) -> None:
    with pytest.raises(InvalidInputError, match="token_budget"):
        memory.thread.get_user_context("t1", token_budget=budget)
    with pytest.raises(InvalidInputError, match="token_budget"):
        memory.context.get(user_id="jane", query="x", token_budget=budget)


def test_bad_role_and_filters_on_lists(memory: Memory) -> None:
    with pytest.raises(InvalidInputError, match="role must be one of"):
        memory.graph.add(user_id="jane", type="message", data="hi", role="bogus")
    with pytest.raises(InvalidInputError, match="source must be one of"):
        memory.graph.episodes(user_id="jane", source="bogus")
    with pytest.raises(InvalidInputError, match="status must be one of"):
        memory.graph.episodes(user_id="jane", status="done")
    assert _stored(memory) == []


# -- configuration and the home directory ----------------------------------------------------------

@pytest.mark.parametrize("fields, why", [({"ingest_mode": "bogus"}, "ingest_mode"),
                                        ({"token_budget": 10}, "token_budget"),
                                        ({"chroma_port": 0}, "chroma_port"), ({"colour": "red"}, "colour")])
def test_bad_settings_are_config_errors(fields: dict[str, Any], why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        MemoryConfig(**fields)


@pytest.mark.parametrize("port", ["abc", "0", "70000", "-1", "80.5"])
def test_bad_port_in_the_environment(port: str) -> None:
    with pytest.raises(ConfigError, match="AGENT_MEMORY_CHROMA_PORT"):
        MemoryConfig.from_env({"AGENT_MEMORY_CHROMA_PORT": port})
    assert MemoryConfig.from_env({"AGENT_MEMORY_CHROMA_PORT": "8123"}).chroma_port == 8123


def test_a_home_that_cannot_be_a_directory(tmp_path: Path) -> None:
    from agent_memory.testing.fakes import HashEmbedder

    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        Memory(afile, embedder=HashEmbedder())
    with pytest.raises(ConfigError, match="part of its path is a file"):
        Memory(afile / "sub", embedder=HashEmbedder())
    if Path("/proc/self").exists():
        with pytest.raises((ConfigError, StorageError)):
            Memory("/proc/agent-memory-home", embedder=HashEmbedder())
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "memory.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="cannot open the database"):
        Memory(tmp_path / "h", embedder=HashEmbedder(), config=MemoryConfig(vector_backend="exact"))


def test_a_full_disk_refuses_whole_calls_and_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """SQLite's page limit stands in for a full disk (the same SQLITE_FULL error)."""
    from agent_memory.storage.embedded import EmbeddedStore
    from agent_memory.storage.inmemory import ExactIndex
    from agent_memory.testing.extractors import TripleExtractor
    from agent_memory.testing.fakes import HashEmbedder

    store = EmbeddedStore(tmp_path / "memory.db", ExactIndex())
    conn = store._conn()  # this thread's connection: inline ingestion writes through it
    with Memory.ephemeral(store=store, embedder=HashEmbedder(), extractor=TripleExtractor()) as mem:
        mem.user.add(user_id="jane", first_name="Jane")
        mem.thread.create(thread_id="t1", user_id="jane")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count={pages + 40}")
        acknowledged, refused = [], []
        for i in range(150):
            msg = Message(role="user", content=f"I | LIVES_IN | City{i} " + "x" * 300)
            try:
                mem.thread.add_messages("t1", messages=[msg])
                acknowledged.append(msg.uuid)
            except StorageError as exc:
                assert "disk is full; free disk space" in str(exc)
                refused.append(msg.uuid)
        assert acknowledged and refused
        stored = {m.uuid for m in mem.thread.get_messages("t1")}
        assert stored == set(acknowledged)  # every acknowledged message, and nothing refused
        conn.execute("PRAGMA max_page_count=1000000")  # space again: what waited is processed
        mem.wait_until_processed("jane")
        assert mem.graph.episodes(user_id="jane", status="pending") == []


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Any:
    """A 4 MB tmpfs mounted under tmp_path (skipped where mounting is not allowed)."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_really_full_disk_at_open_write_and_close(tiny_disk: Path) -> None:
    from agent_memory.testing.extractors import TripleExtractor
    from agent_memory.testing.fakes import HashEmbedder

    def open_memory(home: Path) -> Memory:
        return Memory(home, embedder=HashEmbedder(), extractor=TripleExtractor(),
                      config=MemoryConfig(vector_backend="exact"))

    mem = open_memory(tiny_disk / "home")
    mem.user.add(user_id="jane", first_name="Jane")
    mem.thread.create(thread_id="t1", user_id="jane")
    [kept] = mem.thread.add_messages("t1", messages=[Message(role="user", content="I | LIVES_IN | Oslo")])
    filler = tiny_disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    with pytest.raises(StorageError, match="disk is full"):
        mem.thread.add_messages("t1", messages=[Message(role="user", content="x" * 20_000)])
    with pytest.raises((StorageError, ConfigError), match="full|space"):
        open_memory(tiny_disk / "other").close()
    try:
        mem.close()
    except StorageError as exc:  # the checkpoint needs room; committed data stays in the log
        assert "free disk space" in str(exc)
    filler.unlink()
    with open_memory(tiny_disk / "home") as again:
        assert [m.uuid for m in again.thread.get_messages("t1")] == [kept.uuid]


def test_odd_arguments_elsewhere_are_typed(memory: Memory) -> None:
    with pytest.raises(InvalidInputError, match="surrogate"):
        memory.graph.usage(user_id="jane", episode_uuid="\ud800")
    with pytest.raises(InvalidInputError, match="surrogate"):
        memory.wait_until_processed("\ud800")
    for timeout in ("x", -1, float("nan"), True):
        with pytest.raises(InvalidInputError, match="timeout"):
            memory.wait_until_processed("jane", timeout=timeout)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="relations must be a list"):
        memory.graph.search(user_id="jane", query="x", filters={"relations": "LIVES_IN"})
    for home in (123, "", "a\0b"):
        with pytest.raises(ConfigError, match="home"):
            Memory(home=home)  # type: ignore[arg-type]


def test_look_alike_user_ids_are_separate_graphs(memory: Memory) -> None:
    twins = ["Jane", "jane_", "j\u0430ne", "jane@example.com", "JANE"]  # the third has a Cyrillic a
    for uid in twins:
        memory.user.add(user_id=uid)
        memory.thread.create(thread_id=f"t-{uid}", user_id=uid)
        memory.thread.add_messages(f"t-{uid}", messages=[Message(role="user", content=f"I | OWNS | secret of {uid}")])
    memory.thread.add_messages("t1", messages=[Message(role="user", content="I | OWNS | secret of jane")])
    for uid in ["jane", *twins]:
        ctx = memory.context.get(user_id=uid, query="secret of jane")
        assert {r.user_id for r in [*ctx.facts, *ctx.entities, *ctx.episodes]} == {uid}
        assert [e.content for e in ctx.episodes] == [f"I | OWNS | secret of {uid}"]
