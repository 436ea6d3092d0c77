"""Which questions ask for several things: their answer is gathered from several turns."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_memory.retrieval.question import asks_for_many


@pytest.mark.parametrize("question", [
    "What pets does Nate have?",
    "Which cities has John been to?",
    "What kind of books does Nate enjoy?",
    "What are the skills that Nate has helped others learn?",
    "What European countries has Maria been to?",
    "What do Jon and Gina both have in common?",
    "In what ways is Caroline participating in the community?",
])
def test_a_question_asking_for_a_set_of_things(question: str) -> None:
    assert asks_for_many(question)


@pytest.mark.parametrize("question", [
    "What does Melanie do to keep herself busy?",  # "does" is no plural
    "What inspires Joanna to draw?",  # a verb, then who does it
    "When did Caroline go biking?",
    "What is the name of Maria's second puppy?",
    "What exciting news did Maria share?",
    "Where was John in August?",
    "",
])
def test_a_question_asking_for_one_thing(question: str) -> None:
    assert not asks_for_many(question)


@given(st.text(max_size=200))
def test_any_text_is_judged_without_error(text: str) -> None:
    assert asks_for_many(text) in (True, False)
