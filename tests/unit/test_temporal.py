"""Valid-time resolution: duplicates merge, contradictions close the old fact, nothing is deleted."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_memory import Memory, Message
from agent_memory.ingest.temporal import resolve_fact
from agent_memory.models import Fact

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _fact(target: str, day: int, relation: str = "LIVES_IN", ep: str = "e") -> Fact:
    return Fact(user_id="u", source_uuid="jane", target_uuid=target, relation=relation, fact=f"lives in {target}",
                valid_at=T0 + timedelta(days=day), episodes=[f"{ep}{day}"])


def test_duplicate_adds_provenance_not_a_fact() -> None:
    old = _fact("denver", 1)
    res = resolve_fact(_fact("denver", 5), [old], [], episode_uuid="e5", now=T0)
    assert res.new is None and res.duplicate_of == old
    assert res.updated[0].episodes == ["e1", "e5"] and res.updated[0].valid_at == old.valid_at


def test_single_valued_contradiction_closes_old_at_new_valid_at() -> None:
    old = _fact("boston", 1)
    res = resolve_fact(_fact("denver", 10), [old], [], episode_uuid="e10", now=T0 + timedelta(days=30))
    assert res.new is not None and res.new.target_uuid == "denver" and res.new.invalid_at is None
    [closed] = res.updated
    assert closed.invalid_at == T0 + timedelta(days=10)
    assert closed.expired_at == T0 + timedelta(days=30) and closed.invalidated_by == "e10"


def test_late_arriving_older_value_is_stored_already_closed() -> None:
    newer = _fact("denver", 10)
    res = resolve_fact(_fact("boston", 1), [newer], [], episode_uuid="e1", now=T0)
    assert res.updated == [] and res.new is not None
    assert res.new.invalid_at == newer.valid_at


def test_multi_valued_relations_accumulate() -> None:
    old = _fact("hiking", 1, relation="LIKES")
    res = resolve_fact(_fact("pottery", 2, relation="LIKES"), [old], [], episode_uuid="e2", now=T0)
    assert res.new is not None and res.updated == []


def test_opposite_relation_closes_the_same_target() -> None:
    likes = _fact("olives", 1, relation="LIKES")
    res = resolve_fact(_fact("olives", 5, relation="DISLIKES"), [], [likes], episode_uuid="e5", now=T0)
    assert res.new is not None and res.updated[0].invalid_at == T0 + timedelta(days=5)


def test_ending_closes_without_a_new_fact() -> None:
    job = _fact("acme", 1, relation="WORKS_AT")
    end = _fact("acme", 9, relation="WORKS_AT").model_copy(update={"invalid_at": T0 + timedelta(days=9)})
    res = resolve_fact(end, [job], [], episode_uuid="e9", now=T0, ends=True)
    assert res.new is None and res.updated[0].invalid_at == T0 + timedelta(days=9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["boston", "denver", "lisbon", "oslo"]), st.integers(0, 400)),
                min_size=1, max_size=12))
def test_history_keeps_at_most_one_current_value_and_never_loses_a_statement(moves: list[tuple[str, int]]) -> None:
    """Property: whatever order moves arrive in, one current LIVES_IN, no statement dropped."""
    facts: dict[str, Fact] = {}
    for i, (city, day) in enumerate(moves):
        new = _fact(city, day, ep=f"m{i}-")
        current = [f for f in facts.values() if f.invalid_at is None]
        res = resolve_fact(new, current, [], episode_uuid=f"m{i}", now=T0)
        for f in ([res.new] if res.new else []) + res.updated:
            facts[f.uuid] = f
        stated = {e for f in facts.values() for e in f.episodes}
        assert f"m{i}-{day}" in stated
    assert sum(1 for f in facts.values() if f.invalid_at is None) == 1
    for f in facts.values():
        assert f.invalid_at is None or f.valid_at is None or f.invalid_at >= f.valid_at


def test_pipeline_closes_changed_fact_and_keeps_history(memory: Memory) -> None:
    memory.thread.add_messages("t1", messages=[
        Message(role="user", content="I | LIVES_IN | Boston", created_at="2024-01-01T10:00:00Z")])
    memory.thread.create(thread_id="t2", user_id="jane")
    memory.thread.add_messages("t2", messages=[
        Message(role="user", content="I | LIVES_IN | Denver", created_at="2024-03-02T10:00:00Z")])
    facts = {f.target_name: f for f in memory.graph.facts(user_id="jane", relation="LIVES_IN")}
    assert set(facts) == {"Boston", "Denver"}
    assert facts["Boston"].invalid_at == datetime(2024, 3, 2, 10, tzinfo=timezone.utc)
    assert facts["Denver"].invalid_at is None
    then = memory.graph.facts(user_id="jane", as_of="2024-02-01T00:00:00Z")
    assert [f.target_name for f in then] == ["Boston"]
    now = memory.graph.facts(user_id="jane", valid_only=True)
    assert [f.target_name for f in now] == ["Denver"]
    block = memory.context.get(user_id="jane", query="where does Jane live").context
    assert "Denver (2024-03-02 - present)" in block and "Boston (2024-01-01 - 2024-03-02)" in block


def test_duplicate_statement_adds_provenance(memory: Memory) -> None:
    for day in ("2024-01-01", "2024-01-05"):
        memory.thread.add_messages("t1", messages=[
            Message(role="user", content="I | WORKS_AT | Acme", created_at=f"{day}T10:00:00Z")])
    [fact] = memory.graph.facts(user_id="jane")
    assert len(fact.episodes) == 2
