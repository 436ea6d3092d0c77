"""What real small models answered (Qwen2.5-Coder 1.5B/0.5B on llama.cpp), replayed through the client.

The answers in these cassettes are verbatim from real runs (``scripts/real_answers.json``), served
by the scripted server to today's requests (keyed by call) and recorded with vcrpy: the client,
the parsing and the checks meet what real models do, not what we imagined they would.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import pytest

from agent_memory.errors import LLMResponseError
from agent_memory.extraction import ExtractionContext
from agent_memory.extraction.llm import LLMExtractor
from agent_memory.extraction.relations import is_single_valued
from agent_memory.ingest.judge import CandidateFact, ExistingFact, judge_facts

JANE = ExtractionContext(user_id="jane", user_name="Jane Smith", user_aliases=["Jane"], known_entities=["Jane Smith"])
DEMO = [
    ("2024-03-01T09:00:00Z", "Jane Smith", "Hi! I live in Boston and I work at Acme Corp as a product designer."),
    ("2024-03-01T09:00:00Z", None, "Nice to meet you, Jane. How can I help with your account today?"),
    ("2024-03-01T09:00:00Z", "Jane Smith", "My favorite author is Octavia Butler, and I love hiking on weekends."),
    ("2024-03-05T18:30:00Z", "Jane Smith", "I upgraded to the Pro plan yesterday for the design templates."),
    ("2024-03-05T18:30:00Z", None, "Done: your account shows the Pro plan now."),
    ("2024-03-05T18:30:00Z", "Jane Smith", "My sister Ana lives in Lisbon, I visit her every summer."),
    ("2024-03-20T12:15:00Z", "Jane Smith", "Big news: I moved to Denver last week! Still with Acme Corp, remote now."),
    ("2024-03-20T12:15:00Z", None, "Congratulations on the move! I have updated nothing yet; anything to change?"),
    ("2024-03-20T12:15:00Z", "Jane Smith", "Please send invoices by email, I prefer email contact."),
]
QUESTION = ("2024-03-30T10:00:00Z", "Jane Smith",
            "Hi again! Any book recommendations for my flight? Also, is my account okay?")


def demo_episodes(make_episodes: Any, turns: list[tuple[str, str | None, str]]) -> list[Any]:
    eps = []
    for i, (when, who, text) in enumerate(turns):
        (ep,) = make_episodes("jane", when, [(who, text)])
        eps.append(ep.model_copy(update={"uuid": f"demo-{i:02d}"}))
    return eps


@pytest.mark.vcr
@pytest.mark.scripted(model="qwen2.5-coder-1.5b-instruct")
def test_qwen_1_5b_demo_extraction_credits_the_user_only_with_her_own_words(
        make_llm: Any, calls: Any, make_episodes: Any) -> None:
    eps = demo_episodes(make_episodes, DEMO)
    ex = LLMExtractor(make_llm())
    out = ex.extract(eps, JANE)
    assert len(calls.ok) == 1  # the 9 messages in one call
    for i in (1, 4, 7):  # the assistant's lines ("Done: your account shows the Pro plan now")
        assert out[i].facts == []
    assert ex.stats.dropped_assistant_facts >= 3
    facts = [f for x in out for f in x.facts]
    jane = {(f.relation, f.target) for f in facts if f.source == "Jane Smith"}
    assert ("LIVES_IN", "Denver") in jane  # the model said MOVED: canonical, so it closes Boston by rule
    assert is_single_valued("LIVES_IN")
    assert ("LIVES_IN", "Lisbon") not in jane  # the sister's home is not Jane's
    assert any(f.source == "Ana" and f.target == "Lisbon" for f in facts)
    assert ("HAS_PLAN", "Pro plan") in jane  # UPGRADED -> HAS_PLAN
    types = {f.target: f.target_type for f in facts}
    assert types["Boston"] == "Place" and types["Denver"] == "Place" and types["Acme Corp"] == "Organization"


@pytest.mark.vcr
@pytest.mark.scripted(model="qwen2.5-coder-1.5b-instruct")
def test_qwen_1_5b_residence_from_a_question_is_dropped(make_llm: Any, make_episodes: Any) -> None:
    eps = demo_episodes(make_episodes, [QUESTION])
    ctx = JANE.model_copy(update={"known_entities": ["Jane Smith", "account"],
                                  "known_facts": ["Done: your account shows the Pro plan now."]})
    ex = LLMExtractor(make_llm())
    (out,) = ex.extract(eps, ctx)
    assert out.facts == []  # "Jane Smith lives in the account": asked, never asserted
    assert ex.stats.dropped_question_facts == 1


@pytest.mark.vcr
@pytest.mark.scripted(model="qwen2.5-coder-0.5b-instruct")
def test_qwen_0_5b_misplaced_fields_fall_back_to_the_offline_extractor(
        make_llm: Any, calls: Any, make_episodes: Any, caplog: pytest.LogCaptureFixture) -> None:
    eps = demo_episodes(make_episodes, [*DEMO, QUESTION])
    ex = LLMExtractor(make_llm(structured="json_object"), max_batch_messages=10)
    with caplog.at_level(logging.WARNING, logger="agent_memory.extraction.llm"):
        out = ex.extract(eps, JANE)
    assert [r.ok for r in calls.records] == [False, False]  # dates at the message level: refused twice
    assert ex.stats.fallbacks == 1 and "offline extractor handles these 10 messages" in caplog.text
    jane = {(f.relation, f.target) for x in out for f in x.facts if f.source == "Jane Smith"}
    assert {("LIVES_IN", "Boston"), ("LIVES_IN", "Denver"), ("WORKS_AT", "Acme Corp")} <= jane


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc)


def _new(key: str, relation: str, target: str, fact: str, day: str) -> CandidateFact:
    return CandidateFact(key=key, source="Jane Smith", relation=relation, target=target, fact=fact, valid_at=_at(day))


def _old(uuid: str, relation: str, target: str, fact: str, day: str) -> ExistingFact:
    return ExistingFact(uuid=uuid, source="Jane Smith", relation=relation, target=target, fact=fact,
                        valid_at=_at(day))


@pytest.mark.vcr
@pytest.mark.scripted(model="qwen2.5-coder-1.5b-instruct")
def test_qwen_1_5b_verdicts_with_text_for_ids_are_not_dropped(
        make_llm: Any, vcr: Any, caplog: pytest.LogCaptureFixture) -> None:
    new = [
        _new("hiking", "LIKES", "hiking", "Jane Smith likes hiking on weekends.", "2024-03-01"),
        _new("plan", "UPGRADED", "Pro plan",
             "Jane Smith upgraded to the Pro plan yesterday for the design templates.", "2024-03-05"),
        _new("done", "DONE", "account", "Done: your account shows the Pro plan now.", "2024-03-05"),
        _new("ana", "VISITS", "Ana", "Jane Smith visits her sister Ana every summer.", "2024-03-05"),
        _new("move", "MOVED", "Denver", "Jane Smith moved to Denver last week! Still with Acme Corp, remote now.",
             "2024-03-20"),
        _new("email", "PREFERRED_CONTACT", "email", "Please send invoices by email, I prefer email contact.",
             "2024-03-20"),
    ]
    existing = [
        _old("boston", "LIVES_IN", "Boston", "Jane Smith lives in Boston.", "2024-03-01"),
        _old("acme", "WORKS_AT", "Acme Corp", "Jane Smith works at Acme Corp.", "2024-03-01"),
        _old("butler", "FAVORITE_AUTHOR", "Octavia Butler", "Jane Smith loves Octavia Butler.", "2024-03-01"),
    ]
    with caplog.at_level(logging.INFO, logger="agent_memory.ingest.judge"):
        out = judge_facts(make_llm(), new, existing)
    assert "got no verdict" not in caplog.text  # all six verdicts matched to their fact by its text
    assert len(out) == 6
    body = vcr.requests[0].body.decode() if isinstance(vcr.requests[0].body, bytes) else vcr.requests[0].body
    assert '"enum"' in body and '"N6"' in body  # the ids are enums a constrained decoder must respect


@pytest.mark.vcr
@pytest.mark.scripted(model="qwen2.5-coder-0.5b-instruct")
def test_qwen_0_5b_lists_where_one_id_belongs_fail_cleanly(make_llm: Any, calls: Any) -> None:
    new = [
        _new("hiking", "LIKES", "hiking", "Jane Smith likes hiking.", "2024-03-01"),
        _new("ana", "FRIEND_OF", "Ana", "Jane Smith is friends with Ana.", "2024-03-05"),
        _new("lisbon", "PARENT_OF", "Lisbon", "Jane Smith is a parent of Lisbon.", "2024-03-05"),
    ]
    existing = [_old("boston", "LIVES_IN", "Boston", "Jane Smith lives in Boston.", "2024-03-01"),
                _old("acme", "WORKS_AT", "Acme Corp", "Jane Smith works at Acme Corp.", "2024-03-01")]
    with pytest.raises(LLMResponseError):
        judge_facts(make_llm(structured="json_object"), new, existing)
    assert [r.ok for r in calls.records] == [False, False]
