"""What a reader of the block notices: the question's content decides over a speaker's name, time
words select time, and the block reads in order with events on their day."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from agent_memory import Memory, Message
from agent_memory.context.lines import fact_line
from agent_memory.context.render import ContextParts, render_context
from agent_memory.models import Fact

DAY = datetime(2023, 6, 1, 10, 0, tzinfo=timezone.utc)


def _say(memory: Memory, thread: str, turns: list[tuple[str, str]], start: datetime) -> None:
    memory.thread.create(thread_id=thread, user_id="jane")
    memory.thread.add_messages(thread, messages=[
        Message(role="user", name=who, content=text, created_at=start + timedelta(seconds=i))
        for i, (who, text) in enumerate(turns)])


def test_a_named_speakers_small_talk_does_not_win_on_the_name_alone(memory: Memory) -> None:
    chatter = [("Caroline", t) for t in ("Take care!", "Thanks so much!", "See you soon!", "Bye for now!",
                                         "Talk later!", "Have a good one!")]
    _say(memory, "s1", [*chatter, ("Melanie", "Caroline, your watercolour of the lake at sunrise is stunning")],
         DAY)
    hits = memory.graph.search(user_id="jane", query="What did Caroline paint, a lake at sunrise?",
                               scope="episodes", limit=3)
    assert hits[0].episode is not None and "watercolour" in hits[0].episode.content


def test_a_date_in_the_question_selects_that_day(memory: Memory) -> None:
    for n in range(6):
        _say(memory, f"s{n}", [("Jane", f"We went to the lake again, trip number {n}")], DAY + timedelta(days=30 * n))
    ctx = memory.context.get(user_id="jane", query="What did Jane do at the lake on 31 July, 2023?",
                             token_budget=120)
    assert ctx.episodes and ctx.episodes[0].content.endswith("trip number 2")


def test_messages_sent_together_read_in_conversation_order(memory: Memory) -> None:
    memory.thread.add_messages("t1", messages=[
        Message(role="user", content="My card was declined when I paid for the Pro plan", created_at=DAY),
        Message(role="assistant", content="Sorry! The card on file expired: the Pro plan payment failed",
                created_at=DAY)])
    text = memory.context.get(user_id="jane", query="Pro plan payment failed expired card").context
    assert text.index("declined") < text.index("Sorry!")


def test_events_are_shown_on_their_day_and_states_as_ranges() -> None:
    def fact(relation: str, text: str, closed: bool = False) -> Fact:
        return Fact(user_id="u", source_uuid="a", target_uuid="b", relation=relation, fact=text,
                    valid_at=datetime(2024, 3, 25, tzinfo=timezone.utc),
                    invalid_at=datetime(2024, 4, 2, tzinfo=timezone.utc) if closed else None)

    assert fact_line(fact("PAYMENT_FAILED", "Jane's payment failed")) == "- Jane's payment failed (on 2024-03-25)"
    assert fact_line(fact("WENT_TO", "Jane went to Lisbon")) == "- Jane went to Lisbon (on 2024-03-25)"
    assert fact_line(fact("LIVES_IN", "Jane lives in Denver")) == "- Jane lives in Denver (2024-03-25 - present)"
    assert fact_line(fact("MARRIED_TO", "Jane is married to Al")) == "- Jane is married to Al (2024-03-25 - present)"
    closed = fact("LIVES_IN", "Jane lived in Boston", closed=True)
    assert render_context("%{edges}", ContextParts(facts=[closed]), 100).text == (
        "- Jane lived in Boston (2024-03-25 - 2024-04-02)")


def test_a_question_asking_for_several_things_favours_the_news_a_session_opens_with(memory: Memory) -> None:
    _say(memory, "s1", [("Jane", "I adopted a puppy and a kitten last week!"), ("Bob", "Lovely, congrats")], DAY)
    _say(memory, "s2", [("Bob", "Hello there"), ("Jane", "Hi, how are you doing?"),
                        ("Jane", "I adopted a puppy and a kitten last week!")], DAY + timedelta(days=7))

    def ratio(query: str) -> float:
        hits = memory.graph.search(user_id="jane", query=query, scope="episodes", limit=10)
        score = {(h.episode.thread_id, h.episode.content): h.score for h in hits if h.episode is not None}
        text = "I adopted a puppy and a kitten last week!"
        return score[("s1", text)] / score[("s2", text)]

    # the same words, said first in one session and third in another: a question asking for a set of
    # things ranks the opener higher; a question about one thing barely tells them apart
    assert ratio("What pets has Jane adopted?") > 1.2 * ratio("Did Jane adopt a puppy?")
    assert ratio("What pets has Jane adopted?") > 1.0


def _purchases_around_the_air_fryer(memory: Memory) -> None:
    """Two purchases told alike, a month before and a month after the Air Fryer came."""
    _say(memory, "s1", [("Jane", "I bought a new slow cooker for the kitchen, I love it")], DAY)
    _say(memory, "s2", [("Jane", "I finally got the Air Fryer today!")], DAY + timedelta(days=30))
    _say(memory, "s3", [("Jane", "I bought a new blender for the kitchen, I love it")], DAY + timedelta(days=60))


def test_a_question_dated_by_another_event_selects_that_side_of_it(memory: Memory) -> None:
    _purchases_around_the_air_fryer(memory)

    def first(query: str) -> str:
        hits = memory.graph.search(user_id="jane", query=query, scope="episodes", limit=3)
        bought = [h.episode.content for h in hits if h.episode is not None and "bought" in h.episode.content]
        return bought[0]

    # the two purchases read alike: which side of the Air Fryer the question asks about decides
    assert "slow cooker" in first("What kitchen gadget did Jane buy before getting the Air Fryer?")
    assert "blender" in first("What kitchen gadget did Jane buy after getting the Air Fryer?")


def test_the_question_itself_never_dates_the_event_it_names(memory: Memory) -> None:
    _purchases_around_the_air_fryer(memory)
    # the question, asked later in a thread of its own after a greeting (both are the read's query),
    # matches "getting the Air Fryer" best of all
    _say(memory, "q", [("Jane", "Hello again"), ("Jane", "What kitchen gadget did I buy after getting the Air Fryer?")],
         DAY + timedelta(days=90))
    ctx = memory.thread.get_user_context("q", token_budget=400)
    chosen = [e.content for e in ctx.episodes if "bought" in e.content]  # in the order they were chosen
    assert len(chosen) == 2 and "blender" in chosen[0]


def test_an_earlier_question_about_the_event_does_not_date_it(memory: Memory) -> None:
    _purchases_around_the_air_fryer(memory)
    # asked last month, in another thread: it names the event as the question does, later than the turn that
    # told it; the turn that told it dates the event still
    _say(memory, "q1", [("Jane", "What kitchen gadget did I buy before getting the Air Fryer?")],
         DAY + timedelta(days=75))
    _say(memory, "q2", [("Jane", "What kitchen gadget did I buy after getting the Air Fryer?")],
         DAY + timedelta(days=90))
    ctx = memory.thread.get_user_context("q2", token_budget=400)
    chosen = [e.content for e in ctx.episodes if "bought" in e.content]
    assert len(chosen) == 2 and "blender" in chosen[0]
