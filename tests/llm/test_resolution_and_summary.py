"""judge_facts and summarize_with_llm over recorded traffic, plus the cases that make no call."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from agent_memory.ingest.judge import CandidateFact, ExistingFact, judge_facts
from agent_memory.ingest.llm_summary import summarize_with_llm


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc)


EXISTING = [
    ExistingFact(uuid="f-civic", source="Jane Smith", relation="OWNS", target="Honda Civic",
                 fact="Jane Smith drives a Honda Civic.", valid_at=at("2024-03-02")),
    ExistingFact(uuid="f-hiking", source="Jane Smith", relation="LIKES", target="hiking",
                 fact="Jane Smith likes to go hiking.", valid_at=at("2024-03-02")),
    ExistingFact(uuid="f-rex", source="Jane Smith", relation="HAS_PET", target="Rex",
                 fact="Jane Smith has a dog named Rex.", valid_at=at("2024-03-09")),
    ExistingFact(uuid="f-boston", source="Jane Smith", relation="LIVES_IN", target="Boston",
                 fact="Jane Smith lives in Boston.", valid_at=at("2024-03-02")),
    ExistingFact(uuid="f-acme", source="Jane Smith", relation="WORKS_AT", target="Acme Corp",
                 fact="Jane Smith works at Acme Corp.", valid_at=at("2024-03-02")),
    ExistingFact(uuid="f-sower", source="Octavia Butler", relation="WROTE", target="Parable of the Sower",
                 fact="Octavia Butler wrote Parable of the Sower.", valid_at=None),
]

NEW = [
    CandidateFact(key="sold", source="Jane Smith", relation="SOLD", target="Honda Civic",
                  fact="Jane Smith sold her Honda Civic.", valid_at=at("2024-06-12")),
    CandidateFact(key="hikes", source="Jane Smith", relation="ENJOYS", target="hiking",
                  fact="Jane Smith enjoys hiking in the mountains.", valid_at=at("2024-06-12")),
    CandidateFact(key="denver", source="Jane Smith", relation="LIVES_IN", target="Denver",
                  fact="Jane Smith lives in Denver.", valid_at=at("2024-06-05")),
    CandidateFact(key="miso", source="Jane Smith", relation="HAS_PET", target="Miso",
                  fact="Jane Smith has a cat named Miso.", valid_at=at("2024-06-14")),
    CandidateFact(key="acme", source="Jane Smith", relation="works for", target="Acme Corp",
                  fact="Jane Smith works remotely for Acme Corp.", valid_at=at("2024-06-12")),
]


@pytest.mark.vcr
def test_one_call_judges_contradiction_and_duplicate(make_llm: Any, calls: Any, vcr: Any) -> None:
    out = {j.key: j for j in judge_facts(make_llm(), NEW, EXISTING, episodes=["ep-1", "ep-2"])}

    assert out["sold"].contradicts == ["f-civic"] and out["sold"].duplicate_of is None
    assert out["hikes"].duplicate_of == "f-hiking" and out["hikes"].contradicts == []
    assert out["miso"].duplicate_of is None and out["miso"].contradicts == []  # a cat and a dog: both true
    assert out["acme"].duplicate_of == "f-acme"  # same triple after normalising: settled without the model
    assert out["denver"].duplicate_of is None and out["denver"].contradicts == []  # LIVES_IN: closed by rule
    (record,) = calls.records
    assert record.purpose == "resolve" and record.episodes == ["ep-1", "ep-2"]
    prompt = json.loads(vcr.requests[0].body)["messages"][1]["content"]
    assert "Denver" not in prompt and "Parable of the Sower" not in prompt  # never the whole graph


def test_no_call_without_both_sides(make_llm_offline: Any) -> None:
    llm = make_llm_offline()
    assert [j.model_dump() for j in judge_facts(llm, NEW[:1], [])] == [
        {"key": "sold", "duplicate_of": None, "contradicts": []}]
    assert judge_facts(llm, [], EXISTING) == []
    # only single-valued or exact-duplicate candidates: settled by rules, no call
    assert [j.duplicate_of for j in judge_facts(llm, NEW[2:3] + NEW[4:], EXISTING)] == [None, "f-acme"]


CURRENT = ("Jane Smith lives in Boston and works at Acme Corp as a product designer. She reads a lot; "
           "her favorite author is Octavia Butler.")


@pytest.mark.vcr
def test_summary_updates_only_what_changed(make_llm: Any, calls: Any) -> None:
    update = summarize_with_llm(
        make_llm(), user_name="Jane Smith", current_summary=CURRENT,
        observations=[("favorite_author", "Loves Octavia Butler's novels."),
                      ("reading_habit", "Reads a lot outside work.")],
        new_facts=["Jane Smith lives in Denver.", "Jane Smith works remotely for Acme Corp.",
                   "Jane Smith finished reading Parable of the Sower.", "Jane Smith is reading Fledgling."],
        closed_facts=["Jane Smith lives in Boston."], episodes=["ep-1", "ep-2", "ep-3"])

    assert "Denver" in update.summary and "Boston" not in update.summary
    assert len(update.summary.split()) <= 120
    changed = {o.key: o for o in update.observations}
    assert "favorite_author" not in changed  # unchanged observations are not rewritten
    assert "work_style" in changed and "remote" in changed["work_style"].text.lower()
    assert len(calls.records) == 1 and calls.records[0].purpose == "summarize"


def test_summary_without_changes_makes_no_call(make_llm_offline: Any) -> None:
    update = summarize_with_llm(make_llm_offline(), user_name="Jane Smith", current_summary=CURRENT,
                                observations=[("favorite_author", "Loves Octavia Butler's novels.")],
                                new_facts=[], closed_facts=[])
    assert update.summary == CURRENT and update.observations == []
