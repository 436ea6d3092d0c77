"""Summary instructions offline: the rule-based summary answers the configured questions from current facts."""

from __future__ import annotations

import pytest

from agent_memory import Memory, MemoryConfig, Message

pytestmark = pytest.mark.slow

QUESTIONS = ("Where does the user live?", "Which plan is the user on?", "What is the user's budget?")


def test_the_summary_answers_its_questions_from_current_facts(real_embedder: object) -> None:
    config = MemoryConfig(home=None, vector_backend="exact", summary_questions=QUESTIONS)
    with Memory.ephemeral(llm=None, embedder=real_embedder, config=config) as memory:
        memory.user.add(user_id="jane", first_name="Jane", last_name="Smith")
        memory.thread.create(thread_id="t", user_id="jane")
        memory.thread.add_messages("t", messages=[
            Message(role="user", name="Jane Smith", content="I live in Boston and I'm on the Business plan.",
                    created_at="2024-03-01T09:00:00Z"),
            Message(role="user", name="Jane Smith", content="I moved to Denver last week.",
                    created_at="2024-03-20T09:00:00Z")])
        memory.wait_until_processed("jane")
        summary = memory.user.get("jane").summary or ""
    assert "Where does the user live? Jane Smith lives in Denver." in summary  # the current one, not Boston
    assert "Which plan is the user on? Jane Smith is on the Business plan." in summary
    assert "What is the user's budget? Not known yet." in summary
