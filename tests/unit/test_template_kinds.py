"""A read ranks only the kinds of record its template shows, and the block is the one ranking every kind gives."""

from __future__ import annotations

from typing import Any

import pytest

from agent_memory import Memory, Message
from agent_memory.context.render import ContextParts, render_context
from agent_memory.context.templates import DEFAULT_TEMPLATE, template_kinds, template_shown
from agent_memory.testing.extractors import TripleExtractor

TEMPLATES = [
    DEFAULT_TEMPLATE,
    "<OBS>\n%{observations}\n</OBS>",
    "%{entities limit=5}",
    "%{edges limit=10}\n%{episodes limit=20}",
    "%{user_summary}\n%{episodes limit=20}",
]


@pytest.fixture(scope="module")
def filled(real_embedder: Any) -> Any:
    with Memory.ephemeral(embedder=real_embedder, extractor=TripleExtractor()) as mem:
        mem.user.add(user_id="jane", first_name="Jane")
        for n in range(4):  # Denver in every thread: an observation; one hobby per thread: facts and entities
            mem.thread.create(thread_id=f"t{n}", user_id="jane")
            mem.thread.add_messages(f"t{n}", messages=[
                Message(role="user", content="I | LIVES_IN | Denver"),
                Message(role="user", content=f"I | LIKES | hobby {n}"),
                Message(role="assistant", content=f"Nice, tell me more about hobby {n} and Denver.")])
        yield mem


def test_template_kinds_bring_what_their_ranking_needs() -> None:
    assert template_kinds(DEFAULT_TEMPLATE) == ("fact", "entity", "episode")  # no observations to rank
    assert template_kinds("%{observations}") == ("observation",)
    assert template_kinds("%{entities}") == ("fact", "entity", "episode")
    assert template_kinds("%{user_summary}") == ()
    # entities and observations are ranked as far as the template can show them
    assert template_shown(DEFAULT_TEMPLATE) == 5
    assert template_shown("%{entities limit=30}\n%{observations limit=8}") == 30
    assert template_shown("%{entities limit=3}\n%{observations}") is None


@pytest.mark.parametrize("n", range(len(TEMPLATES)))
def test_a_block_is_the_same_as_when_every_kind_is_ranked(filled: Memory, n: int) -> None:
    template, question = TEMPLATES[n], "Where does Jane live and what are her hobbies?"
    template_id = None if template == DEFAULT_TEMPLATE else f"t{n}"
    if template_id:
        filled.context.create_context_template(template_id=template_id, template=template)
    got = filled.context.get(user_id="jane", query=question, template_id=template_id, token_budget=400)
    core = filled._core
    every = core.retriever.candidates("jane", question)
    parts = ContextParts(user_summary=core.user("jane").summary, facts=[f for f, _ in every.facts],
                         entities=[e for e, _ in every.entities], episodes=[e for e, _ in every.episodes],
                         observations=[o for o, _ in every.observations], episode_order=every.episode_order)
    assert got.context == render_context(template, parts, 400).text
    assert "Denver" in got.context  # every template here shows where she lives
