"""The switch interval is shortened only while reads are in flight, and given back after the last one."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from agent_memory._switching import switching


@pytest.fixture(autouse=True)
def default_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    yield
    sys.setswitchinterval(before)


def test_shortened_inside_and_restored_after() -> None:
    with switching(0.001):
        assert sys.getswitchinterval() == pytest.approx(0.001)
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_never_lengthened_and_zero_leaves_it() -> None:
    sys.setswitchinterval(0.0005)
    with switching(0.001):
        assert sys.getswitchinterval() == pytest.approx(0.0005)
    with switching(0.0):
        assert sys.getswitchinterval() == pytest.approx(0.0005)
    assert sys.getswitchinterval() == pytest.approx(0.0005)


def test_overlapping_reads_restore_once_the_last_ends() -> None:
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[float] = []

    def second() -> None:
        first_in.wait()
        with switching(0.002):  # a second memory's read joins the first one's change
            second_in.set()
            first_out.wait()
            seen.append(sys.getswitchinterval())

    t = threading.Thread(target=second)
    t.start()
    with switching(0.001):
        first_in.set()
        second_in.wait()
    first_out.set()
    t.join()
    assert seen == [pytest.approx(0.001)]  # still shortened after the first read ended
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_an_application_change_meanwhile_is_kept() -> None:
    with switching(0.001):
        sys.setswitchinterval(0.003)
    assert sys.getswitchinterval() == pytest.approx(0.003)


def test_restored_when_the_read_raises() -> None:
    with pytest.raises(RuntimeError), switching(0.001):
        raise RuntimeError("boom")
    assert sys.getswitchinterval() == pytest.approx(0.005)


class _Recording:
    """The real embedder, noting the switch interval each time a read embeds its query."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.dimensions = inner, inner.name, inner.dimensions
        self.seen: list[float] = []

    def embed_batch(self, texts: Any) -> Any:
        self.seen.append(sys.getswitchinterval())
        return self.inner.embed_batch(texts)


def test_a_memory_read_runs_shortened_and_gives_it_back(real_embedder: Any) -> None:
    from agent_memory import Memory, MemoryConfig, Message

    embedder = _Recording(real_embedder)
    with Memory(config=MemoryConfig(home=None, read_switch_interval=0.0015), embedder=embedder) as memory:
        memory.user.add(user_id="ann")
        for tid, text in (("t1", "I keep bees in Lyon."), ("t2", "Where are my bees?")):
            memory.thread.create(thread_id=tid, user_id="ann")
            memory.thread.add_messages(tid, messages=[Message(role="user", content=text)])
        embedder.seen.clear()
        assert "I keep bees in Lyon." in memory.thread.get_user_context("t2").context
        assert embedder.seen and all(s == pytest.approx(0.0015) for s in embedder.seen)
        assert sys.getswitchinterval() == pytest.approx(0.005)
        embedder.seen.clear()
        memory.graph.search(user_id="ann", query="bees", scope="episodes")
        assert embedder.seen == [pytest.approx(0.0015)]
        assert sys.getswitchinterval() == pytest.approx(0.005)
