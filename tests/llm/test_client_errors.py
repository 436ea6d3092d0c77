"""OpenAILLM failure handling over recorded traffic: 429s, a server without json_schema, bad output.

These cassettes come from the scripted server only (the errors are staged); see cassettes/README.md.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_memory.errors import LLMResponseError, RateLimitError
from agent_memory.extraction.base import ExtractionContext
from agent_memory.extraction.llm import LLMExtractor

pytestmark = [pytest.mark.vcr, pytest.mark.scripted]

JANE = ExtractionContext(user_id="jane", user_name="Jane Smith", user_aliases=["Jane"])


def test_rate_limit_waits_retry_after_then_succeeds(make_llm: Any, calls: Any, make_episodes: Any) -> None:
    eps = make_episodes("jane", "2024-06-15T08:00:00Z", [("Jane", "I adopted a cat named Miso yesterday.")])
    (out,) = LLMExtractor(make_llm()).extract(eps, JANE)

    assert any(f.relation == "HAS_PET" and f.target == "Miso" for f in out.facts)
    assert calls.sleeps == [1.0]  # the server's retry-after, honoured exactly
    failed, ok = calls.records
    assert (failed.ok, failed.attempt, failed.prompt_tokens) == (False, 1, 0)
    assert "429" in (failed.error or "")
    assert ok.ok and ok.attempt == 2 and ok.prompt_tokens > 0
    assert failed.episodes == ok.episodes == [eps[0].uuid]


def test_rate_limit_exhausted_raises_rate_limit_error(make_llm: Any, calls: Any, make_episodes: Any) -> None:
    eps = make_episodes("jane", "2024-06-16T08:00:00Z",
                        [("Jane", "I'm training for the Chicago marathon in October.")])
    with pytest.raises(RateLimitError) as info:
        LLMExtractor(make_llm(max_retries=1)).extract(eps, JANE)

    assert info.value.retry_after == 1.0 and "429" in str(info.value)
    assert calls.sleeps == [1.0]
    assert [r.ok for r in calls.records] == [False, False]


@pytest.mark.scripted(model="qwen2.5-7b-instruct")
def test_server_without_json_schema_falls_back_to_json_object(make_llm: Any, calls: Any, make_episodes: Any,
                                                              vcr: Any) -> None:
    """llama.cpp's server answers 500 to json_schema: the client switches to json_object for good."""
    llm = make_llm()
    extractor = LLMExtractor(llm)
    first = make_episodes("jane", "2024-04-01T07:00:00Z",
                          [("Jane", "I switched from coffee to green tea this spring.")])
    second = make_episodes("jane", "2024-04-08T07:00:00Z", [("Jane", "Oolong is my favorite tea now.")])

    (tea,) = extractor.extract(first, JANE)
    (oolong,) = extractor.extract(second, JANE)

    assert llm.mode == "json_object"
    assert any(f.target.lower() == "green tea" for f in tea.facts)
    assert any(f.relation == "FAVORITE_TEA" and f.target == "Oolong" for f in oolong.facts)
    assert [(r.ok, r.attempt) for r in calls.records] == [(False, 1), (True, 2), (True, 1)]
    assert "500" in (calls.records[0].error or "")
    sent = [json.loads(req.body) for req in vcr.requests]
    assert [s["response_format"]["type"] for s in sent] == ["json_schema", "json_object", "json_object"]
    assert '"messages"' in sent[1]["messages"][0]["content"]  # the schema rides in the system message


@pytest.mark.scripted(model="llama3.1:8b")
def test_malformed_output_is_retried_with_the_error(make_llm: Any, calls: Any, make_episodes: Any,
                                                    vcr: Any) -> None:
    eps = make_episodes("jane", "2024-05-04T21:00:00Z",
                        [("Jane", "I've been getting into jazz lately, mostly Coltrane.")])
    (out,) = LLMExtractor(make_llm(structured="json_object")).extract(eps, JANE)

    assert any(f.target == "John Coltrane" for f in out.facts)
    assert [r.ok for r in calls.records] == [False, True]
    assert "invalid output" in (calls.records[0].error or "")
    retry = json.loads(vcr.requests[1].body)["messages"]
    assert retry[-2]["role"] == "assistant" and retry[-1]["role"] == "user"
    assert "Field required" in retry[-1]["content"]  # the validation error, quoted back


@pytest.mark.scripted(model="llama3.1:8b")
def test_malformed_twice_fails_cleanly(make_llm: Any, calls: Any, make_episodes: Any) -> None:
    eps = make_episodes("jane", "2024-05-12T12:00:00Z",
                        [("Jane", "We celebrated my dad's 60th birthday in Portland on Saturday.")])
    with pytest.raises(LLMResponseError) as info:
        LLMExtractor(make_llm(structured="json_object"), fallback=None).extract(eps, JANE)

    message = str(info.value)
    assert "extract" in message and "ExtractOutput" in message and "Field required" in message
    assert info.value.episodes == [eps[0].uuid]  # the core marks exactly these episodes failed
    assert [r.ok for r in calls.records] == [False, False]
