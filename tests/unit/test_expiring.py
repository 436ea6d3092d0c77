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
