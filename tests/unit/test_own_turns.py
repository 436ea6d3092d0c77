"""A named speaker's story goes on in their own next turn, after the other's reply: the retriever
lifts the speaker's turns two steps from a strong hit of theirs (``fusion.own_turns_around``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from agent_memory import Memory, Message
from agent_memory.retrieval.fusion import own_turns_around


@dataclass(frozen=True)
class Turn:
    uuid: str
    name: str | None


def _around(thread: list[Turn]) -> dict[str, list[Turn]]:
    """uuid -> the turns just before and after it, as ``adjacent_episodes`` gives them."""
    return {t.uuid: [thread[j] for j in (i - 1, i + 1) if 0 <= j < len(thread)] for i, t in enumerate(thread)}


@given(st.lists(st.sampled_from(["Jane", "Bob", "Ann", None]), min_size=1, max_size=12), st.data())
def test_the_speakers_turns_two_steps_away_and_nothing_else(names: list[str | None], data: st.DataObject) -> None:
    thread = [Turn(f"t{i}", n) for i, n in enumerate(names)]
    i = data.draw(st.integers(0, len(thread) - 1))
    around = _around(thread)
    who = thread[i].name
    got = own_turns_around(thread[i].uuid, who, around[thread[i].uuid], around)
    want = [thread[j] for j in (i - 2, i + 2) if 0 <= j < len(thread) and who is not None and thread[j].name == who]
    assert sorted(t.uuid for t in got) == sorted(t.uuid for t in want)


def test_a_turn_reached_twice_is_listed_once() -> None:
    a, b, c = Turn("a", "Jane"), Turn("b", "Bob"), Turn("c", "Jane")
    # a neighbour map that reaches c through both of a's neighbours (a thread store never does, a merge may)
    got = own_turns_around("a", "Jane", [b, b], {"b": [a, c]})
    assert got == [c]


def test_the_speakers_next_turn_after_a_reply_ranks_higher(memory: Memory) -> None:
    day = datetime(2023, 6, 1, 10, 0, tzinfo=timezone.utc)
    memory.thread.create(thread_id="s1", user_id="jane")
    story = [("Jane", "I went camping at the lake with my family last weekend."),
             ("Bob", "Nice! How was it?"),
             ("Jane", "We roasted marshmallows and hiked up to a waterfall."),
             ("Bob", "Sounds lovely.")]
    filler = [("Jane" if n % 2 else "Bob", f"The quarterly report number {n} is due on Friday.") for n in range(12)]
    memory.thread.add_messages("s1", messages=[
        Message(role="user", name=who, content=text, created_at=day + timedelta(seconds=i))
        for i, (who, text) in enumerate([*filler, *story])])
    retriever = memory._core.retriever

    def rank(weight: float) -> list[str]:
        retriever.knobs = replace(retriever.knobs, own_turn_weight=weight)
        cands = retriever.candidates("jane", "What did Jane do on the camping trip?", kinds=("episode",))
        return [e.content for e, _ in cands.episodes]

    without, with_ = rank(0.0), rank(0.25)
    went_on = "We roasted marshmallows and hiked up to a waterfall."
    assert with_.index(went_on) < without.index(went_on)
