"""One user never sees another's memory; the async twin behaves exactly like the sync one."""

from __future__ import annotations

from agent_memory import AsyncMemory, Memory, Message
from agent_memory.testing.extractors import TripleExtractor
from agent_memory.testing.fakes import HashEmbedder


def test_users_never_see_each_other(memory: Memory) -> None:
    memory.user.add(user_id="bob", first_name="Bob")
    memory.thread.create(thread_id="b1", user_id="bob")
    memory.thread.add_messages("t1", messages=[Message(role="user", content="I | LIVES_IN | Zanzibar")])
    memory.thread.add_messages("b1", messages=[Message(role="user", content="I | LIVES_IN | Reykjavik")])
    for scope in ("edges", "nodes", "episodes", "observations"):
        hits = memory.graph.search(user_id="bob", query="Zanzibar lives", scope=scope, limit=50)
        assert "Zanzibar" not in repr(hits)
    ctx = memory.context.get(user_id="bob", query="Zanzibar where does Jane live")
    assert "Zanzibar" not in ctx.context and "Reykjavik" in ctx.context
    assert all(f.user_id == "bob" for f in memory.graph.facts(user_id="bob"))


async def test_async_twin_matches_sync() -> None:
    async with AsyncMemory.ephemeral(embedder=HashEmbedder(), extractor=TripleExtractor(),
                                     json_extractor=TripleExtractor()) as mem:
        await mem.user.add(user_id="jane", first_name="Jane", last_name="Smith")
        await mem.thread.create(thread_id="t1", user_id="jane")
        await mem.thread.add_messages("t1", messages=[
            Message(role="user", content="I | LIVES_IN | Boston", created_at="2024-01-01T00:00:00Z"),
            Message(role="user", content="I | LIVES_IN | Denver", created_at="2024-03-01T00:00:00Z")])
        await mem.wait_until_processed("jane")
        facts = await mem.graph.facts(user_id="jane", valid_only=True)
        assert [f.target_name for f in facts] == ["Denver"]
        ctx = await mem.thread.get_user_context("t1")
        assert "Jane Smith lives in Denver" in (ctx.user_summary or "")
        hits = await mem.graph.search(user_id="jane", query="Denver", scope="edges")
        assert hits and hits[0].fact is not None


def test_async_namespaces_mirror_sync_method_names() -> None:
    from agent_memory.client import (
        AsyncContextAPI,
        AsyncGraphAPI,
        AsyncThreadAPI,
        AsyncUserAPI,
        ContextAPI,
        GraphAPI,
        ThreadAPI,
        UserAPI,
    )

    for sync, twin in ((UserAPI, AsyncUserAPI), (ThreadAPI, AsyncThreadAPI), (GraphAPI, AsyncGraphAPI),
                       (ContextAPI, AsyncContextAPI)):
        public = {n for n in vars(sync) if not n.startswith("_")}
        assert public == {n for n in vars(twin) if not n.startswith("_")}
