"""SQLite full text: a user who holds most of a table is searched without the per-user token (half the
work), a small user through it; both plans return the same rows and scores."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from agent_memory.models import Episode, EpisodeSource, User
from agent_memory.storage.sqlite import SQLiteStore

T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
WORDS = "kayak denver moving weather painting lake sunrise guitar recital marathon".split()


def _store(tmp_path: Path) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "memory.db")
    for uid, n in (("jane", 60), ("bob", 6)):
        store.add_user(User(user_id=uid))
        store.add_episodes([Episode(uuid=f"{uid}-{i}", user_id=uid, source=EpisodeSource.text,
                                    content=f"{WORDS[i % 10]} and {WORDS[(3 * i) % 10]} {WORDS[(7 * i) % 10]} {i}",
                                    reference_time=T0 + timedelta(minutes=i)) for i in range(n)])
    return store


def test_both_plans_return_the_same_rows_and_scores(tmp_path: Path) -> None:
    store = _store(tmp_path)
    queries = ["kayak on the lake", "moving to Denver", "guitar recital", "sunrise marathon painting", "weather"]
    chosen = {}
    for uid in ("jane", "bob"):
        for q in queries:
            chosen[(uid, q)] = store.search_text(uid, "episode", q, 25)
    assert store._holds_most("jane", "episode", "episodes") and not store._holds_most("bob", "episode", "episodes")
    for uid in ("jane", "bob"):  # force the other plan for each user
        store._fts_share.put((uid, "episode"), uid == "bob")
        for q in queries:
            assert store.search_text(uid, "episode", q, 25) == chosen[(uid, q)]
    assert all(hits for hits in chosen.values())  # every query matches something for both users
    assert all(u.startswith(f"{uid}-") for (uid, _), hits in chosen.items() for u, _ in hits)  # never another's
    store.close()
