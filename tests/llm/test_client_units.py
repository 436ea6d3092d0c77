"""OpenAILLM without cassettes: configuration, retries and translation (httpx2 MockTransport, no sockets)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx2
import openai
import pytest
from pydantic import BaseModel

from agent_memory.errors import (
    ConfigError,
    LLMResponseError,
    MissingDependencyError,
    ProviderError,
    RateLimitError,
)
from agent_memory.llm.base import CallRecord
from agent_memory.llm.openai import OpenAILLM


class Answer(BaseModel):
    city: str
    since: str | None = None


def chat(content: str, prompt_tokens: int = 20, completion_tokens: int = 7) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


Reply = tuple[int, dict[str, Any], dict[str, str]]


def mocked(replies: list[Reply | Exception], **kwargs: Any) -> tuple[OpenAILLM, list[dict[str, Any]],
                                                                      list[float], list[CallRecord]]:
    """An OpenAILLM whose HTTP goes to a queue of (status, json, headers) replies."""
    sent: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content))
        reply = replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        status, body, headers = reply
        return httpx2.Response(status, json=body, headers=headers)

    client = openai.OpenAI(api_key="sk-test", base_url="http://mock/v1",
                           http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    sleeps: list[float] = []
    records: list[CallRecord] = []
    llm = OpenAILLM("m", client=client, sleep=sleeps.append, **kwargs)
    llm.on_call = records.append
    return llm, sent, sleeps, records


ASK = [{"role": "system", "content": "Extract."}, {"role": "user", "content": "I live in Denver."}]
GOOD = (200, chat('{"city": "Denver", "since": null}'), {})


def error(status: int, message: str, **headers: str) -> Reply:
    return status, {"error": {"message": message, "type": "x", "param": None, "code": None}}, headers


def test_valid_answer_one_record_with_usage() -> None:
    llm, sent, _, records = mocked([GOOD])
    assert llm.generate_structured(ASK, Answer, name="where", episodes=["e1"]) == Answer(city="Denver")
    fmt = sent[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["required"] == ["city", "since"]
    assert sent[0]["temperature"] == 0
    (rec,) = records
    assert (rec.purpose, rec.model, rec.prompt_tokens, rec.completion_tokens, rec.ok) == ("where", "m", 20, 7, True)
    assert rec.episodes == ["e1"]


def test_retry_after_ms_wins_and_backoff_is_bounded() -> None:
    llm, _, sleeps, _ = mocked([error(429, "slow down", **{"retry-after-ms": "250", "retry-after": "9"}),
                                error(429, "slow down"), GOOD])
    llm.generate_structured(ASK, Answer, name="where")
    assert sleeps[0] == 0.25
    assert 0.5 <= sleeps[1] <= 1.0  # no header: 0.5 s * 2**1 with jitter in [0.5, 1]


def test_server_errors_back_off_then_provider_error() -> None:
    llm, sent, sleeps, records = mocked([error(503, "overloaded")] * 3, structured="json_object", max_retries=2)
    with pytest.raises(ProviderError) as info:
        llm.generate_structured(ASK, Answer, name="where")
    assert not isinstance(info.value, RateLimitError) and info.value.status_code == 503
    assert len(sent) == 3 and len(sleeps) == 2 and [r.ok for r in records] == [False] * 3


def test_connection_error_is_a_provider_error() -> None:
    failure = httpx2.ConnectError("refused")
    llm, _, sleeps, _ = mocked([failure, failure], max_retries=1)
    with pytest.raises(ProviderError, match="could not reach"):
        llm.generate_structured(ASK, Answer, name="where")
    assert len(sleeps) == 1


def test_auth_error_is_not_retried() -> None:
    llm, sent, sleeps, _ = mocked([error(401, "Incorrect API key provided")])
    with pytest.raises(ProviderError, match="401"):
        llm.generate_structured(ASK, Answer, name="where")
    assert len(sent) == 1 and sleeps == []


def test_400_naming_response_format_switches_to_json_object() -> None:
    llm, sent, _, _ = mocked([error(400, "Invalid parameter: 'response_format' of type 'json_schema' is not "
                                         "supported with this model."), GOOD, GOOD])
    llm.generate_structured(ASK, Answer, name="where")
    llm.generate_structured(ASK, Answer, name="where")
    assert [s["response_format"]["type"] for s in sent] == ["json_schema", "json_object", "json_object"]
    assert "JSON schema" in sent[1]["messages"][0]["content"] and llm.mode == "json_object"


def test_forced_json_schema_mode_does_not_fall_back() -> None:
    llm, _, _, _ = mocked([error(500, "boom")], structured="json_schema", max_retries=0)
    with pytest.raises(ProviderError, match="500"):
        llm.generate_structured(ASK, Answer, name="where")
    assert llm.mode == "json_schema"


def test_a_500_after_json_schema_worked_is_retried_not_a_fallback() -> None:
    llm, sent, sleeps, _ = mocked([GOOD, error(500, "The server had an error"), GOOD])
    llm.generate_structured(ASK, Answer, name="where")
    llm.generate_structured(ASK, Answer, name="where")
    assert llm.mode == "json_schema" and len(sleeps) == 1
    assert [s["response_format"]["type"] for s in sent] == ["json_schema"] * 3


def test_refusal_is_reported_as_the_reason() -> None:
    refusal = chat("")
    refusal["choices"][0]["message"] = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
    llm, _, _, records = mocked([(200, refusal, {}), (200, refusal, {})])
    with pytest.raises(LLMResponseError, match="refused"):
        llm.generate_structured(ASK, Answer, name="where")
    assert [r.ok for r in records] == [False, False]


def test_fenced_answer_is_accepted() -> None:
    llm, _, _, _ = mocked([(200, chat('```json\n{"city": "Denver"}\n```'), {})])
    assert llm.generate_structured(ASK, Answer, name="where").city == "Denver"


def test_failing_accounting_hook_does_not_lose_the_answer() -> None:
    llm, _, _, _ = mocked([GOOD])

    def broken(record: CallRecord) -> None:
        raise RuntimeError("db down")

    llm.on_call = broken
    assert llm.generate_structured(ASK, Answer, name="where").city == "Denver"


# -- configuration ----------------------------------------------------------------------------------
def test_from_env_none_without_an_endpoint() -> None:
    assert OpenAILLM.from_env({}) is None
    assert OpenAILLM.from_env({"AGENT_MEMORY_LLM_MODEL": "gpt-4o"}) is None


def test_from_env_openai_and_local_server() -> None:
    llm = OpenAILLM.from_env({"OPENAI_API_KEY": "sk-x"})
    assert llm is not None and llm.model == "gpt-4o-mini" and llm.client.max_retries == 0
    local = OpenAILLM.from_env({"OPENAI_BASE_URL": "http://localhost:8080/v1", "AGENT_MEMORY_LLM_MODEL": "qwen2.5",
                                "AGENT_MEMORY_LLM_STRUCTURED": "json_object"})
    assert local is not None and local.model == "qwen2.5" and local.mode == "json_object"
    assert str(local.client.base_url).startswith("http://localhost:8080/v1")


def test_from_env_azure() -> None:
    llm = OpenAILLM.from_env({"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com", "AZURE_OPENAI_API_KEY": "k",
                              "OPENAI_API_VERSION": "2024-10-21", "AGENT_MEMORY_LLM_MODEL": "my-deployment"})
    assert llm is not None and isinstance(llm.client, openai.AzureOpenAI) and llm.model == "my-deployment"
    assert llm.client.max_retries == 0


def test_given_client_gets_retries_turned_off() -> None:
    llm = OpenAILLM("m", client=openai.OpenAI(api_key="sk-x", max_retries=5))
    assert llm.client.max_retries == 0


@pytest.mark.parametrize("kwargs", [{"structured": "xml"}, {"max_retries": -1}, {"max_concurrency": 0}])
def test_bad_settings_are_config_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        OpenAILLM("m", api_key="sk-x", **kwargs)


def test_missing_openai_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(MissingDependencyError, match=r"agent-memory\[openai\]") as info:
        OpenAILLM("m", api_key="sk-x")
    assert isinstance(info.value, ImportError)


def test_agent_memory_never_imports_vcr_or_openai_at_import() -> None:
    code = ("import sys, agent_memory.llm, agent_memory.extraction.llm, agent_memory.ingest.judge, "
            "agent_memory.ingest.llm_summary, agent_memory.extraction.ontology; "
            "print(sorted(m for m in ('vcr', 'openai') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _names(module: Any) -> list[str]:
    return sorted(module.__all__)


@pytest.mark.parametrize(("module", "expected"), [
    ("agent_memory.llm", ["CallRecord", "LLMClient", "OpenAILLM"]),
    ("agent_memory.llm.base", ["CallRecord", "LLMClient", "T"]),
    ("agent_memory.llm.openai", ["DEFAULT_AZURE_API_VERSION", "DEFAULT_MAX_TOKENS", "DEFAULT_MODEL", "OpenAILLM",
                                 "StructuredMode", "default_timeout"]),
    ("agent_memory.extraction.llm", ["ExtractorStats", "LLMExtractor", "chunk_episodes", "parse_model_date"]),
    ("agent_memory.extraction.ontology", ["Ontology"]),
    ("agent_memory.ingest.judge", ["CandidateFact", "ExistingFact", "Judgement", "candidates", "judge_facts"]),
    ("agent_memory.ingest.llm_summary", ["ObservationUpdate", "SummaryUpdate", "summarize_with_llm"]),
])
def test_public_names_are_pinned(module: str, expected: list[str]) -> None:
    import importlib

    mod = importlib.import_module(module)
    assert _names(mod) == expected
    assert all(hasattr(mod, name) for name in expected)

