"""The bounded expiring map behind the read memo and SQLite's full-text plan: what it keeps, and for how long."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agent_memory._expiring import Expiring


@given(st.lists(st.tuples(st.integers(0, 9), st.integers()), max_size=60), st.integers(1, 5))
def test_it_keeps_the_last_value_of_the_most_recently_written_keys(writes: list[tuple[int, int]], size: int) -> None:
    kept: Expiring[int, int] = Expiring(ttl=3600.0, size=size)
    last: dict[int, int] = {}
    for key, value in writes:
        kept.put(key, value)
        last.pop(key, None)
        last[key] = value
    newest = list(last)[-size:]
    assert {k: kept.get(k) for k in last} == {k: (last[k] if k in newest else None) for k in last}


def test_an_entry_is_gone_once_its_time_is_up_and_drop_removes_what_it_matches() -> None:
    now = [100.0]
    kept: Expiring[tuple[str, int], str] = Expiring(ttl=60, size=10, clock=lambda: now[0])
    kept.put(("jane", 1), "a")
    kept.put(("bob", 1), "b")
    kept.drop(lambda key: key[0] == "jane")
    now[0] += 59.9
    assert kept.get(("jane", 1)) is None and kept.get(("bob", 1)) == "b"
    now[0] += 0.1
    assert kept.get(("bob", 1)) is None


@given(st.lists(st.lists(st.tuples(st.integers(0, 9), st.integers()), max_size=8), max_size=10), st.integers(1, 5),
       st.lists(st.integers(0, 12), max_size=12))
def test_many_at_once_is_the_same_as_one_at_a_time(batches: list[list[tuple[int, int]]], size: int,
                                                    asked: list[int]) -> None:
    one: Expiring[int, int] = Expiring(ttl=3600.0, size=size)
    many: Expiring[int, int] = Expiring(ttl=3600.0, size=size)
    for batch in batches:
        for key, value in batch:
            one.put(key, value)
        many.put_many(batch)
    assert many.get_many(asked) == [one.get(k) for k in asked]


def test_many_at_once_expire_like_one_at_a_time() -> None:
    now = [0.0]
    kept: Expiring[str, int] = Expiring(ttl=10, size=10, clock=lambda: now[0])
    kept.put_many([("a", 1), ("b", 2)])
    now[0] += 5
    kept.put_many([("b", 3)])
    now[0] += 5
    assert kept.get_many(["a", "b", "c"]) == [None, 3, None]
