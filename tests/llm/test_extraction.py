"""LLMExtractor over recorded OpenAI wire traffic: the seed tutorial conversation and a later thread."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import pytest

from agent_memory.extraction.base import Extraction, ExtractionContext
from agent_memory.extraction.llm import LLMExtractor

JANE = ExtractionContext(user_id="jane", user_name="Jane Smith", user_aliases=["Jane", "jane"])

SEED_THREAD = [
    ("Jane", "Hi! I'm Jane. I live in Boston and I work at Acme Corp as a product designer."),
    (None, "Nice to meet you, Jane! How do you like working at Acme Corp?"),
    ("Jane", "I love it. Outside work I read a lot. My favorite author is Octavia Butler."),
    (None, "Octavia Butler is a great choice! Have you read Kindred?"),
    ("Jane", "Yes, Kindred is amazing. I'm reading Parable of the Sower right now."),
]

LATER_THREAD = [
    ("Jane", "Big news: I moved to Denver last week! Still working remotely for Acme."),
    (None, "Congratulations on the move! How are you settling in?"),
    ("Jane", "Pretty well. I finished Parable of the Sower on the flight, so now I'm starting Fledgling."),
]

KNOWN_ENTITIES = ["Jane Smith", "Boston", "Acme Corp", "Octavia Butler", "Parable of the Sower"]
KNOWN_FACTS = ["Jane Smith lives in Boston.", "Jane Smith works at Acme Corp.", "Jane Smith is a product designer.",
               "Jane Smith's favorite author is Octavia Butler.", "Jane Smith is reading Parable of the Sower."]


def triples(extraction: Extraction) -> set[tuple[str, str, str]]:
    return {(f.source, f.relation, f.target) for f in extraction.facts}


@pytest.mark.vcr
def test_seed_conversation_in_one_call(make_llm: Any, calls: Any, make_episodes: Any) -> None:
    eps = make_episodes("jane", "2024-03-02T10:00:00Z", SEED_THREAD)
    out = LLMExtractor(make_llm()).extract(eps, JANE)

    assert [x.episode_uuid for x in out] == [e.uuid for e in eps]
    first, _, third, fourth, fifth = out
    assert ("Jane Smith", "LIVES_IN", "Boston") in triples(first)
    assert ("Jane Smith", "WORKS_AT", "Acme Corp") in triples(first)
    assert any(f.relation == "JOB_TITLE" and "designer" in f.target for f in first.facts)
    assert ("Jane Smith", "FAVORITE_AUTHOR", "Octavia Butler") in triples(third)
    assert not fourth.facts  # the assistant's question asserts nothing
    assert any("Parable of the Sower" in f.target for f in fifth.facts)
    types = {e.name: e.type for x in out for e in x.entities}
    assert types["Boston"] == "Place" and types["Acme Corp"] == "Organization"
    assert types["Octavia Butler"] == "Person"
    # accounting: one model call for five messages, with its tokens and the episodes it served
    (record,) = calls.records
    assert record.ok and record.purpose == "extract" and record.attempt == 1
    assert record.prompt_tokens > 500 and record.completion_tokens > 100 and record.latency_ms > 0
    assert record.episodes == [e.uuid for e in eps]


@pytest.mark.vcr
def test_later_thread_maps_known_ids_and_dates(make_llm: Any, calls: Any, make_episodes: Any) -> None:
    eps = make_episodes("jane", "2024-06-12T18:30:00Z", LATER_THREAD)
    ctx = JANE.model_copy(update={"known_entities": KNOWN_ENTITIES, "known_facts": KNOWN_FACTS})
    extractor = LLMExtractor(make_llm())
    moved, _, reading = extractor.extract(eps, ctx)

    denver = next(f for f in moved.facts if f.relation == "LIVES_IN")
    assert (denver.source, denver.target) == ("Jane Smith", "Denver")
    # "last week", said on 2024-06-12, resolved against the message time, tz-aware UTC
    assert denver.valid_at is not None and denver.valid_at.tzinfo is not None
    assert datetime(2024, 6, 3, tzinfo=timezone.utc) <= denver.valid_at <= datetime(2024, 6, 9, tzinfo=timezone.utc)
    assert ("Jane Smith", "WORKS_AT", "Acme Corp") in triples(moved)  # "Acme" -> the known E3
    assert any(f.ends and f.target == "Parable of the Sower" for f in reading.facts)
    assert any(f.target == "Fledgling" and not f.ends for f in reading.facts)
    names = {n for x in (moved, reading) for f in x.facts for n in (f.source, f.target)}
    assert not any(re.fullmatch(r"[EF]\d+", n) for n in names)  # ids never leak
    assert extractor.stats.dropped_references == 0
    assert len(calls.records) == 1


@pytest.mark.vcr
@pytest.mark.scripted
def test_invented_ids_are_dropped_not_guessed(make_llm: Any, make_episodes: Any) -> None:
    """The scripted model answers with E7 when only E1 and E2 exist: that fact is dropped and counted."""
    eps = make_episodes("jane", "2024-06-20T09:00:00Z", [("Jane", "My sister Priya visited me in Denver.")])
    ctx = JANE.model_copy(update={"known_entities": ["Jane Smith", "Denver"],
                                  "known_facts": ["Jane Smith lives in Denver."]})
    extractor = LLMExtractor(make_llm())
    (out,) = extractor.extract(eps, ctx)

    assert ("Priya", "VISITED", "Denver") in triples(out)
    assert not any("E7" in (f.source, f.target) for f in out.facts)
    assert extractor.stats.dropped_references == 1
