"""PostgreSQL full text of episodes in its own narrow table (schema migration 2): a memory made before
it keeps every episode findable, ranked as before, and new or deleted episodes follow."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent_memory._time import utcnow
from agent_memory.models import Episode, Thread, User
from agent_memory.storage.postgres import PostgresStore
from agent_memory.storage.postgres import schema as pg_schema

pytestmark = pytest.mark.slow  # starts a PostgreSQL server (once per session)

TEXTS = ["I moved to Denver last week", "Denver has great coffee", "I run every morning in Denver",
         "My sister Priya visits in spring"]


def _episodes(user: str, texts: list[str]) -> list[Episode]:
    start = utcnow()
    return [Episode(user_id=user, thread_id=f"{user}-t", source="message", role="user", name="Jane", content=t,
                    reference_time=start + timedelta(seconds=i)) for i, t in enumerate(texts)]


def test_a_memory_made_before_the_text_table_keeps_its_ranked_full_text(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_schema, "MIGRATIONS", pg_schema.MIGRATIONS[:1])
    monkeypatch.setattr(pg_schema, "SCHEMA_VERSION", 1)
    old = PostgresStore(postgres_url)
    try:
        assert old.schema_version == 1
        old.add_user(User(user_id="jane"))
        old.add_thread(Thread(thread_id="jane-t", user_id="jane"))
        eps = _episodes("jane", TEXTS)
        old.add_episodes(eps)
        # the ranking as version 1 computed it, from the episodes' own generated tsvector
        before = [(r["uuid"], r["score"]) for r in old._all(
            "SELECT uuid, ts_rank(tsv, to_tsquery('english', 'denver | coffee')) AS score FROM episodes"
            " WHERE tsv @@ to_tsquery('english', 'denver | coffee') ORDER BY score DESC, uuid")]
    finally:
        old.close()
    monkeypatch.undo()
    new = PostgresStore(postgres_url)
    try:
        assert new.schema_version == 2
        assert new.search_text("jane", "episode", "Denver coffee", 10) == before
        assert len(before) == 3 and before[0][0] == eps[1].uuid
        later = _episodes("jane", ["Coffee with Priya in Denver"])
        new.add_episodes(later)  # indexed by the trigger, in the episode's own transaction
        hits = dict(new.search_text("jane", "episode", "Denver coffee", 10))
        assert set(hits) == {eps[0].uuid, eps[1].uuid, eps[2].uuid, later[0].uuid}
        assert dict(new.search_text("jane", "episode", "Jane", 10)).keys() == hits.keys() | {eps[3].uuid}
        new.delete_episode("jane", eps[1].uuid)
        new.delete_thread("jane-t")
        assert new.search_text("jane", "episode", "Denver coffee", 10) == []
        assert new._scalar("SELECT count(*) FROM episode_text") == 0
    finally:
        new.close()
