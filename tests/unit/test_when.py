"""Time windows read from a question: relative phrases count back from the question's own date."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from agent_memory.retrieval.when import event_anchor, query_dates

NOW = datetime(2023, 5, 30, 23, 0, tzinfo=timezone.utc)


def _days(text: str, now: datetime | None = NOW) -> list[tuple[str, str]]:
    return [(a.date().isoformat(), b.date().isoformat()) for a, b in query_dates(text, now)]


def test_relative_phrases_count_back_from_the_question_date() -> None:
    assert _days("Who did I meet during the lunch last Tuesday?") == [("2023-05-22", "2023-05-31")]
    assert _days("What gardening did I do two weeks ago?") == [("2023-05-09", "2023-05-30")]
    assert _days("How many hours of yoga did I do last week?") == [("2023-05-16", "2023-05-31")]
    assert _days("What did I write yesterday?") == [("2023-05-28", "2023-05-31")]
    # a bare month is the latest one up to the question, and the week after it
    assert _days("How many appointments did I go to in March?") == [("2023-03-01", "2023-04-08")]
    assert _days("What did I do last week?", now=None) == []  # no date to count from: not read


def test_a_span_before_a_date_ends_on_that_date() -> None:
    # told on the date ("two weeks ago"), so the window holds the date itself
    assert _days("the puppy she got two weeks before August 11, 2023", None) == [("2023-07-26", "2023-08-13")]
    assert _days("What did John do the week before August 3, 2023?", None) == [("2023-07-25", "2023-08-05")]
    assert _days("on the Sunday before October 25, 2022", None) == [("2022-10-17", "2022-10-27")]


def test_a_year_and_a_month_reach_a_week_past_their_end() -> None:
    assert _days("How often did she go to the beach in 2023?", None) == [("2023-01-01", "2024-01-08")]
    assert _days("What did Maria donate in December 2023?", None) == [("2023-12-01", "2024-01-08")]
    assert _days("What is 2023 minus 3?", None) == []  # a number is not a year someone asks about


def test_a_question_dated_by_another_event_names_the_event_and_its_side() -> None:
    assert event_anchor("What gadget did I buy before getting the Air Fryer?") == ("before", "getting the Air Fryer")
    assert event_anchor("How did Melanie feel after the accident?") == ("after", "the accident")
    assert event_anchor("How many postcards have I added since I started collecting again?") == (
        "after", "I started collecting again")
    # a calendar time or a relative one is read as a time window, not as an event
    assert event_anchor("What did John do the week before August 3, 2023?") is None
    assert event_anchor("What did Maria do last weekend before April 10, 2023?") is None
    assert event_anchor("What did I cook before last week?") is None
    # "after" opening the question asks for a span, and a question with no such word has no event
    assert event_anchor("After how many weeks did Tim reconnect with his friend?") is None
    assert event_anchor("Where does Jane live?") is None
    # a thread's query is its latest messages, newest first, one a line: the newest that has one counts
    assert event_anchor("What did I cook after the move?\nI moved before the summer\nHi!") == ("after", "the move")
    assert event_anchor("Thanks!\nWhat did I cook after the move?") == ("after", "the move")


@given(st.text(max_size=200))
def test_any_text_is_read_without_raising_and_the_event_is_its_tail(text: str) -> None:
    found = event_anchor(text)
    if found is not None:
        side, event = found
        assert side in ("before", "after")
        assert event and event in text
