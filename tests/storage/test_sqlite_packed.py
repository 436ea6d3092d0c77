"""SQLite's many-row reads come packed in one JSON row (one GIL handoff instead of one per row): what
they return is exactly what the rows hold, text and scores alike."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from agent_memory.models import Entity, Episode, EpisodeSource, Fact, User
from agent_memory.storage.sqlite import SQLiteStore

T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
ODD = ["a NUL \x00 in it", "tab\tand\nnewline \x01\x1f", 'quotes " and \\ backslash', "emoji \U0001F600 \u2028 é",
       "kayak " * 40]


def test_episodes_and_facts_with_any_text_come_back_as_written(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memory.db")
    store.add_user(User(user_id="jane"))
    eps = [Episode(uuid=f"e{i}", user_id="jane", source=EpisodeSource.text, content=text,
                   reference_time=T0 + timedelta(minutes=i)) for i, text in enumerate(ODD)]
    store.add_episodes(eps)
    assert store.get_episodes("jane", [e.uuid for e in eps]) == eps
    a, b = Entity(user_id="jane", name="Jane \x00 Doe", type="Person"), Entity(user_id="jane", name="é", type="Place")
    store.save_entity(a)
    store.save_entity(b)
    facts = [Fact(user_id="jane", source_uuid=a.uuid, target_uuid=b.uuid, relation="LIKES", fact=text,
                  valid_at=T0, episodes=["e1", "e0"]) for text in ODD]
    for f in facts:
        store.save_fact(f)
    got = store.get_facts("jane", [f.uuid for f in facts])
    assert [(f.fact, f.source_name, f.target_name) for f in got] == [(t, a.name, b.name) for t in ODD]
    assert all(f.episodes == ["e0", "e1"] for f in got)  # provenance in time order
    store.close()


def test_full_text_scores_are_the_exact_bm25(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memory.db")
    store.add_user(User(user_id="jane"))
    store.add_episodes([Episode(uuid=f"e{i}", user_id="jane", source=EpisodeSource.text,
                                content=f"kayak trip {'lake ' * (i % 7)} number {i}",
                                reference_time=T0 + timedelta(minutes=i)) for i in range(30)])
    hits = store.search_text("jane", "episode", "kayak lake", 50)
    plain = store._all("SELECT t.uuid, -bm25(fts_episode, 1.0, 0.0) FROM fts_episode JOIN episodes t"
                       " ON t.seq = fts_episode.rowid WHERE fts_episode MATCH 'body:(\"kayak\" OR \"lake\")'"
                       " AND t.user_id='jane'")
    assert dict(hits) == {r[0]: r[1] for r in plain}  # every score equal to the last bit
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    store.close()
