"""The seed tutorial end to end on the real embedded default: SQLite + Chroma + MiniLM + spaCy.

The same suite runs against embedded Chroma, against a Chroma server started on 127.0.0.1, and
against PostgreSQL + pgvector (a real embedded server; a fresh database per test).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_memory import Memory, MemoryConfig, Message
from agent_memory.testing.chroma_server import run_chroma_server

pytestmark = pytest.mark.slow

MARKER = "Xylophonia"  # a word that exists nowhere but in this user's text


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    with run_chroma_server(tmp_path_factory.mktemp("chroma-server")) as address:
        yield address


@pytest.fixture(params=["embedded", "server", "postgres"])
def make_memory(request: pytest.FixtureRequest, tmp_path: Path, real_embedder: Any, real_extractor: Any):  # type: ignore[no-untyped-def]
    """A factory of Memory objects on one home (so a test can 'restart'): embedded Chroma, a Chroma
    server, or a PostgreSQL database of the test's own."""
    opened: list[Memory] = []
    overrides: dict[str, Any] = {}
    if request.param == "server":
        host, port = request.getfixturevalue("chroma_server")
        overrides = {"chroma_host": host, "chroma_port": port}
    elif request.param == "postgres":
        from agent_memory.testing.postgres_server import create_database

        overrides = {"database_url": create_database(request.getfixturevalue("postgres_server"))}

    def make() -> Memory:
        mem = Memory(config=MemoryConfig(home=tmp_path / "home", **overrides), embedder=real_embedder,
                     extractor=real_extractor)
        opened.append(mem)
        return mem

    make.database_url = overrides.get("database_url")  # type: ignore[attr-defined]
    yield make
    for mem in opened:
        mem.close()


def _seed(memory: Memory, user_id: str = "jane") -> None:
    memory.user.add(user_id=user_id, email=f"{user_id}@example.com", first_name="Jane", last_name="Smith")
    days = [
        ("2024-03-01T09:00:00Z", ["I live in Boston and I work at Acme Corp as a designer.",
                                  "My favorite author is Octavia Butler."]),
        ("2024-03-20T09:00:00Z", ["I moved to Denver last week!", f"My dog Biscuit loves the {MARKER} park."]),
    ]
    for i, (day, texts) in enumerate(days):
        tid = f"{user_id}-t{i}"
        memory.thread.create(thread_id=tid, user_id=user_id)
        memory.thread.add_messages(tid, messages=[
            Message(role="user", name="Jane Smith", content=t, created_at=day) for t in texts])
    memory.graph.add(user_id=user_id, type="json", created_at="2024-03-25T07:45:00Z", data=json.dumps(
        {"event_type": "payment_failed", "plan": "Pro", "amount": 49.0, "timestamp": "2024-03-25T07:45:00Z"}))


def _ask(memory: Memory, user_id: str, question: str, thread_id: str) -> str:
    memory.thread.create(thread_id=thread_id, user_id=user_id)
    memory.thread.add_messages(thread_id, messages=[Message(role="user", name="Jane Smith", content=question,
                                                            created_at="2024-03-30T10:00:00Z")])
    return memory.thread.get_user_context(thread_id).context


def test_cross_thread_recall_changed_fact_and_json_event(make_memory) -> None:  # type: ignore[no-untyped-def]
    memory = make_memory()
    _seed(memory)
    block = _ask(memory, "jane", "Can you recommend a book? And did my last payment go through?", "jane-new")
    assert "Octavia Butler" in block
    assert "payment_failed" in block
    assert "Denver" in block
    lives = {f.target_name: f for f in memory.graph.facts(user_id="jane", relation="LIVES_IN")}
    assert set(lives) >= {"Boston", "Denver"}
    assert lives["Denver"].invalid_at is None
    assert lives["Boston"].invalid_at is not None and lives["Boston"].invalid_at == lives["Denver"].valid_at
    assert lives["Boston"].invalidated_by in lives["Denver"].episodes
    plan = memory.graph.facts(user_id="jane", relation="HAS_PLAN", valid_only=True)
    assert [f.target_name for f in plan] == ["Pro"]


def test_search_scopes_and_filters(make_memory) -> None:  # type: ignore[no-untyped-def]
    memory = make_memory()
    _seed(memory)
    hits = memory.graph.search(user_id="jane", query="where does Jane live", scope="edges", limit=5)
    assert hits and any(h.fact and h.fact.target_name == "Denver" for h in hits)
    valid = memory.graph.search(user_id="jane", query="where does Jane live", scope="edges",
                                filters={"valid_only": True, "relations": ["LIVES_IN"]})
    assert [h.fact.target_name for h in valid if h.fact] == ["Denver"]
    before = memory.graph.search(user_id="jane", query="where does Jane live", scope="edges",
                                 filters={"as_of": "2024-03-05T00:00:00Z", "relations": ["LIVES_IN"]})
    assert [h.fact.target_name for h in before if h.fact] == ["Boston"]
    nodes = memory.graph.search(user_id="jane", query="Octavia Butler", scope="nodes", limit=3)
    assert nodes[0].entity is not None and nodes[0].entity.name == "Octavia Butler"
    eps = memory.graph.search(user_id="jane", query="dog park", scope="episodes", limit=3)
    assert MARKER in eps[0].episode.content  # type: ignore[union-attr]


def test_templates_shape_the_block(make_memory) -> None:  # type: ignore[no-untyped-def]
    memory = make_memory()
    _seed(memory)
    memory.context.create_context_template(
        template_id="customer-support",
        template="<PROFILE>%{user_summary}</PROFILE>\n"
                 "<RECENT_FACTS>\n%{edges limit=3 valid_only=true}\n</RECENT_FACTS>")
    memory.thread.create(thread_id="q", user_id="jane")
    memory.thread.add_messages("q", messages=[Message(role="user", content="Where do I live now?")])
    ctx = memory.thread.get_user_context("q", template_id="customer-support")
    assert ctx.context.startswith("<PROFILE>Jane Smith")
    assert "<RECENT_FACTS>" in ctx.context and "<EPISODES>" not in ctx.context
    assert "Boston" not in ctx.context.split("<RECENT_FACTS>")[1]
    assert len(ctx.facts) <= 3


def test_user_isolation(make_memory) -> None:  # type: ignore[no-untyped-def]
    memory = make_memory()
    _seed(memory, "jane")
    memory.user.add(user_id="bob", first_name="Bob")
    memory.thread.create(thread_id="bob-1", user_id="bob")
    memory.thread.add_messages("bob-1", messages=[Message(role="user", name="Bob", content="I live in Oslo.")])
    block = _ask(memory, "bob", "Where do people live? Which authors, parks, dogs, payments or plans?", "bob-2")
    for secret in ("Denver", "Boston", MARKER, "Octavia", "payment_failed", "Jane", "Biscuit"):
        assert secret not in block
    for scope in ("edges", "nodes", "episodes", "observations"):
        hits = memory.graph.search(user_id="bob", query=f"Jane Denver {MARKER} Octavia Biscuit payment",
                                   scope=scope, limit=50)
        hits = [h for h in hits if not (h.episode and h.episode.thread_id == "bob-2")]  # bob's own question
        assert not any(s in repr(hits) for s in ("Denver", MARKER, "Octavia", "Biscuit", "payment_failed"))


def test_persistence_across_restart(make_memory) -> None:  # type: ignore[no-untyped-def]
    first = make_memory()
    _seed(first)
    first.close()
    again = make_memory()
    assert again.user.get("jane").summary and "Denver" in (again.user.get("jane").summary or "")
    block = _ask(again, "jane", "Which author do I like?", "after-restart")
    assert "Octavia Butler" in block
    hits = again.graph.search(user_id="jane", query="dog park", scope="episodes", limit=1)
    assert MARKER in hits[0].episode.content  # type: ignore[union-attr]  # vectors survived too


def test_delete_user_leaves_no_trace(make_memory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    memory = make_memory()
    _seed(memory, "jane")
    memory.user.add(user_id="bob", first_name="Bob")
    memory.thread.create(thread_id="bob-1", user_id="bob")
    memory.thread.add_messages("bob-1", messages=[Message(role="user", name="Bob", content="I live in Oslo.")])
    if make_memory.database_url:  # the check below can see text in PostgreSQL's files at all
        from agent_memory.testing.postgres_server import database_files

        assert any(MARKER.lower().encode() in p.read_bytes().lower() for p in database_files(make_memory.database_url))
    memory.user.delete("jane")
    assert [u.user_id for u in memory.user.list()] == ["bob"]
    assert memory.graph.search(user_id="bob", query="Oslo", scope="episodes")  # bob is intact
    if make_memory.database_url:  # PostgreSQL: rewrite the tables, then read the database's own files
        from agent_memory.testing.postgres_server import database_files

        memory._core.store.purge(full=True)  # type: ignore[attr-defined]
        files = database_files(make_memory.database_url)
        assert files
    else:
        files = [p for p in (tmp_path / "home").rglob("*") if p.is_file()]
    memory.close()
    leftovers = []
    for path in files:
        if path.is_file():
            data = path.read_bytes().lower()
            for secret in (MARKER.lower(), b"octavia", b"biscuit", b"payment_failed"):
                needle = secret if isinstance(secret, bytes) else secret.encode()
                if needle in data:
                    leftovers.append((path.name, needle))
    assert leftovers == []
    reopened = make_memory()
    with pytest.raises(KeyError):
        reopened.user.get("jane")
