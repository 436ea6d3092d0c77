"""Changes become states, assistant answers are not the user's memory, and the summary says something
(real spaCy extractor; hash embedder and in-memory store, so each test takes well under a second)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from agent_memory import Memory, Message
from agent_memory.context.lines import fact_when
from agent_memory.extraction import ExtractionContext, OfflineExtractor
from agent_memory.models import Episode, EpisodeSource, Fact, Role
from agent_memory.testing.fakes import HashEmbedder

pytestmark = pytest.mark.slow

DAY1, DAY20 = "2024-03-01T09:00:00Z", "2024-03-20T09:00:00Z"
REF = datetime(2024, 3, 20, 9, tzinfo=timezone.utc)


@pytest.fixture
def memory(real_extractor: OfflineExtractor) -> Iterator[Memory]:
    with Memory.ephemeral(embedder=HashEmbedder(), extractor=real_extractor) as mem:
        yield mem


def _say(memory: Memory, user: tuple[str, str, str], turns: list[tuple[str, str, str]]) -> None:
    """``user``: (id, first, last); ``turns``: (thread, day, text) from the user, each followed by a reply."""
    uid, first, last = user
    memory.user.add(user_id=uid, first_name=first, last_name=last)
    for thread, day, text in turns:
        tid = f"{uid}-{thread}"
        if tid not in {t.thread_id for t in memory.thread.list(user_id=uid)}:
            memory.thread.create(thread_id=tid, user_id=uid)
        memory.thread.add_messages(tid, messages=[
            Message(role="user", content=text, created_at=day),
            Message(role="assistant", content="Thanks for letting me know! Mix rolled oats with milk tonight.",
                    created_at=day)])


def _lives(memory: Memory, uid: str) -> list[Fact]:
    return sorted(memory.graph.facts(user_id=uid, relation="LIVES_IN"), key=lambda f: f.valid_at or REF)


@pytest.mark.parametrize(("user", "text", "city", "since"), [
    (("jane", "Jane", "Smith"), "Big news: I moved to Denver last week!", "Denver", REF - timedelta(days=7)),
    (("raj", "Raj", "Patel"), "We relocated to Porto yesterday.", "Porto", REF - timedelta(days=1)),
    (("mia", "Mia", "Chen"), "Finally settled in Kyoto on March 10.", "Kyoto", REF - timedelta(days=10)),
    (("tom", "Tom", "Berg"), "I left Boston for Seattle.", "Seattle", REF),
])
def test_a_move_is_a_change_of_where_the_user_lives(memory: Memory, user: tuple[str, str, str], text: str,
                                                     city: str, since: datetime) -> None:
    _say(memory, user, [("a", DAY1, "I live in Boston."), ("b", DAY20, text)])
    name = f"{user[1]} {user[2]}"
    old, new = _lives(memory, user[0])
    assert (old.target_name, old.fact) == ("Boston", f"{name} lives in Boston.")
    assert (new.target_name, new.fact) == (city, f"{name} lives in {city}.")  # the state, not "moved to"
    assert new.valid_at is not None and abs(new.valid_at - since) < timedelta(days=1)
    assert new.invalid_at is None and fact_when(new).endswith(" - present")
    assert old.invalid_at == new.valid_at  # the move closed the previous home on the day it happened


def test_a_one_off_event_stays_an_event_on_its_day(memory: Memory) -> None:
    _say(memory, ("jane", "Jane", "Smith"), [("a", DAY20, "I visited the Louvre yesterday.")])
    (visit,) = memory.graph.facts(user_id="jane", relation="VISITED")
    assert visit.fact == "Jane Smith visited the Louvre." and fact_when(visit) == "on 2024-03-19"


def _assistant(ex: OfflineExtractor, text: str, name: str | None = None) -> tuple[set[tuple[str, str, str]], set[str]]:
    ctx = ExtractionContext(user_id="jane", user_name="Jane Smith", user_aliases=["Jane"])
    ep = Episode(user_id="jane", source=EpisodeSource.message, role=Role.assistant, name=name, content=text,
                 reference_time=REF)
    x = ex.extract([ep], ctx)[0]
    return {(f.source, f.relation, f.target) for f in x.facts}, {e.name for e in x.entities}


@pytest.mark.parametrize("text", [
    "Here's a simple recipe: Mix rolled oats with milk and let them soak overnight.",
    "1. Mix rolled oats.\n2. Add chia seeds.\n3. Refrigerate overnight.",
    "Great question! Marie Curie won the Nobel Prize twice. She worked at the Sorbonne.",
    "Tom Hanks starred in Cast Away, and many travelers visited the Eiffel Tower last year.",
])
def test_an_assistants_general_answer_adds_no_facts(real_extractor: OfflineExtractor, text: str) -> None:
    facts, entities = _assistant(real_extractor, text)
    assert facts == set()
    assert "Mix" not in entities  # a capitalised imperative is not a person


def test_an_assistant_restating_the_users_life_is_kept(real_extractor: OfflineExtractor) -> None:
    facts, _ = _assistant(real_extractor, "You moved to Denver last week. Your sister Ana lives in Lisbon.")
    assert facts == {("Jane Smith", "LIVES_IN", "Denver"), ("Jane Smith", "HAS_SISTER", "Ana"),
                     ("Ana", "LIVES_IN", "Lisbon")}


def test_a_named_speaker_in_the_assistant_role_still_states_facts(real_extractor: OfflineExtractor) -> None:
    facts, _ = _assistant(real_extractor, "Caroline attended an LGBTQ support group.", name="Melanie")
    assert ("Caroline", "ATTENDED", "LGBTQ support group") in facts  # a person talking, not a model answering


@pytest.mark.parametrize(("user", "turns", "expected"), [
    (("jane", "Jane", "Smith"), [
        ("a", DAY1, "I live in Boston and I work at Acme Corp as a product designer."),
        ("a", DAY1, "My sister Ana lives in Lisbon. My favorite author is Octavia Butler."),
        ("b", DAY20, "I moved to Denver last week! Still with Acme Corp."),
    ], ["lives in Denver (since 2024-03-13; before: Boston)", "works at Acme Corp as a product designer",
        "Ana (sister; lives in Lisbon)", "favorite author Octavia Butler", "2 conversations",
        "keeps coming back to Acme Corp"]),
    (("raj", "Raj", "Patel"), [
        ("a", DAY1, "I'm a nurse and I live in Austin. I love pottery."),
        ("b", DAY20, "I relocated to Chicago on March 15. My brother Dev works at Google."),
    ], ["lives in Chicago (since 2024-03-15; before: Austin)", "is a nurse", "Dev (brother; works at Google)",
        "likes pottery", "2 conversations"]),
])
def test_the_summary_says_more_than_the_facts(memory: Memory, user: tuple[str, str, str],
                                              turns: list[tuple[str, str, str]], expected: list[str]) -> None:
    _say(memory, user, turns)
    summary = memory.user.get(user[0]).summary or ""
    for part in expected:
        assert part in summary, f"{part!r} not in {summary!r}"
    facts = memory.graph.facts(user_id=user[0], limit=100)
    assert facts and not any(f.fact in summary for f in facts)  # composed, not the fact lines again
    assert "Mix" not in summary and "oats" not in summary  # the assistant's boilerplate is nobody's fact


def test_a_summary_that_would_only_repeat_the_user_id_is_left_out(memory: Memory) -> None:
    """An account with no name and nothing known about it gets no summary section (the id says nothing
    the caller does not know); a name alone is worth its tokens."""
    memory.user.add(user_id="acct-7")
    memory.thread.create(thread_id="t", user_id="acct-7")
    memory.thread.add_messages("t", messages=[Message(role="user", content="ok thanks", created_at=DAY1)])
    assert not memory.user.get("acct-7").summary
    block = memory.context.get(user_id="acct-7", query="what did I say?").context
    assert "acct-7" not in block
    memory.user.add(user_id="ana", first_name="Ana")
    memory.thread.create(thread_id="u", user_id="ana")
    memory.thread.add_messages("u", messages=[Message(role="user", content="ok thanks", created_at=DAY1)])
    assert memory.user.get("ana").summary == "Ana."


def test_a_user_known_by_id_keeps_the_id_as_written(memory: Memory) -> None:
    """With no name, the user's facts name them by their id, which is not a word to capitalise ("U-18bc"
    would be another id), and the summary says the id once, not before every phrase."""
    memory.user.add(user_id="u-18bc8abd")
    memory.thread.create(thread_id="t", user_id="u-18bc8abd")
    memory.thread.add_messages("t", messages=[Message(
        role="user", content="I just became a librarian at the city library. I live in Denver now.", created_at=DAY1)])
    facts = [f.fact for f in memory.graph.facts(user_id="u-18bc8abd")]
    assert "u-18bc8abd lives in Denver." in facts
    assert not any(f.startswith("U-18bc8abd") for f in facts)
    summary = memory.user.get("u-18bc8abd").summary or ""
    assert summary.startswith("u-18bc8abd lives in Denver") and summary.count("18bc8abd") == 1
