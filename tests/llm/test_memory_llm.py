"""``Memory(llm=OpenAILLM(...))`` end to end, through the public API only, over recorded traffic.

The wired path: ``add_messages`` returns at once, the background worker batches the user's new
episodes, one ``extract`` call reads the batch, one ``resolve`` call judges duplicates and
contradictions, one ``summarize`` call rewrites the user's summary, and every HTTP attempt is
accounted per episode in ``memory.graph.usage``. The debounce window is long (30 s) so that
nothing is processed until ``wait_until_processed`` cuts it short: the batches, hence the
requests in the cassettes, are the same on every run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from agent_memory import Memory, MemoryConfig, Message
from agent_memory.llm import OpenAILLM

DEBOUNCE = 30.0  # never reached: wait_until_processed flushes the window
SUPPORT = "Support"
THREADS = [
    ("jane-day-01", "2024-03-01T09:00:00Z", [
        "I live in Boston and I work at Acme Corp as a product designer.",
        "Nice to meet you, Jane! How can I help you today?",
        "My favorite author is Octavia Butler, and I love hiking on weekends.",
        "Octavia Butler is a great pick. Any favorite trails around Boston?",
    ]),
    ("jane-day-20", "2024-03-20T12:15:00Z", [
        "Big news: I moved to Denver last week!",
        "Congratulations on the move! How are you settling in?",
        "I really enjoy hiking in the mountains.",
        "Denver is a great base for that.",
    ]),
]
EVENT = {"event_type": "payment_failed", "timestamp": "2024-03-25T07:45:00Z", "plan": "Pro", "amount": 49.0,
         "currency": "USD", "reason": "card_expired"}
QUESTION = "Hi again! Any book recommendations for my flight? Also, is my account okay?"


def turns(start: str, texts: list[str], *, gap_s: int = 60) -> list[Message]:
    """A user/assistant exchange, the user first, a minute apart."""
    t0 = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(timezone.utc)
    return [Message(role="user" if i % 2 == 0 else "assistant", name="Jane Smith" if i % 2 == 0 else SUPPORT,
                    content=text, created_at=t0 + timedelta(seconds=gap_s * i)) for i, text in enumerate(texts)]


@pytest.fixture
def make_memory(endpoint: Any, calls: Any, real_embedder: Any) -> Iterator[Callable[..., Memory]]:
    """A Memory on the cassette's endpoint (model client never really sleeps), with user Jane Smith."""
    made: list[Memory] = []

    def make(**llm_kwargs: Any) -> Memory:
        llm = OpenAILLM(endpoint.model, api_key=endpoint.api_key, base_url=endpoint.base_url,
                        sleep=calls.sleeps.append, **llm_kwargs)
        memory = Memory.ephemeral(llm=llm, embedder=real_embedder,
                                  config=MemoryConfig(home=None, vector_backend="exact", llm_debounce_seconds=DEBOUNCE))
        memory.user.add(user_id="jane", first_name="Jane", last_name="Smith", email="jane@example.com")
        made.append(memory)
        return memory

    yield make
    for memory in made:
        memory.close()
        memory.llm.client.close()


def recorded(vcr: Any) -> list[tuple[str, int, dict[str, Any]]]:
    """(task, HTTP status, response body) of every interaction in the cassette, in order."""
    out = []
    for request, response in zip(vcr.requests, vcr.responses):
        sent = json.loads(request.body)
        fmt = sent.get("response_format") or {}
        first = next(m["content"] for m in sent["messages"] if m["role"] == "user")
        task = (fmt.get("json_schema") or {}).get("name") or _task(first)
        out.append((task, response["status"]["code"], json.loads(response["body"]["string"])))
    return out


def _task(prompt: str) -> str:
    """The task of a json_object request (no schema name), from its first user message."""
    if prompt.startswith("User: "):
        return "extract"
    return "resolve" if prompt.startswith("New facts:") else "summarize"


def tokens(interactions: list[tuple[str, int, dict[str, Any]]]) -> tuple[int, int]:
    """Prompt and completion tokens the provider reported (error answers report none)."""
    ok = [body["usage"] for _, status, body in interactions if status == 200]
    return sum(u["prompt_tokens"] for u in ok), sum(u["completion_tokens"] for u in ok)


def check_usage(memory: Memory, vcr: Any, *, messages: int, invalid: int = 0) -> Any:
    """memory.graph.usage counts exactly what the cassette recorded; episodes' shares sum to it.

    Failed calls are the HTTP errors plus the ``invalid`` answers that did not validate.
    """
    usage = memory.graph.usage(user_id="jane")
    interactions = recorded(vcr)
    assert usage.calls == len(interactions)
    assert usage.failed_calls == sum(status != 200 for _, status, _ in interactions) + invalid
    assert (usage.prompt_tokens, usage.completion_tokens) == tokens(interactions)
    by_task: dict[str, float] = {}
    for task, _, _ in interactions:
        by_task[task] = by_task.get(task, 0) + 1
    assert usage.calls_by_purpose == by_task
    shares = [memory.graph.usage(user_id="jane", episode_uuid=e.uuid)
              for e in memory.graph.episodes(user_id="jane", limit=1000)]
    for key in ("calls", "failed_calls", "prompt_tokens", "completion_tokens", "latency_ms"):
        assert sum(getattr(s, key) for s in shares) == pytest.approx(getattr(usage, key)), key
    assert usage.latency_ms > 0
    assert len(memory.graph.episodes(user_id="jane", source="message", limit=1000)) == messages
    return usage


@pytest.mark.vcr
def test_seed_tutorial_in_the_background(make_memory: Any, vcr: Any) -> None:
    memory = make_memory()
    for thread_id, start, texts in THREADS:
        memory.thread.create(thread_id=thread_id, user_id="jane")
        memory.thread.add_messages(thread_id, messages=turns(start, texts))
    memory.graph.add(user_id="jane", type="json", data=json.dumps(EVENT), created_at=EVENT["timestamp"])
    # add_messages returned at once: with a model, ingestion runs in the background
    assert memory.config.ingest_mode == "background"
    assert len(memory.graph.episodes(user_id="jane", status="pending")) == 9
    memory.wait_until_processed("jane")
    assert not memory.graph.episodes(user_id="jane", status="pending")
    assert not memory.graph.episodes(user_id="jane", status="failed")

    facts = memory.graph.facts(user_id="jane", limit=1000)
    lives = {f.target_name: f for f in facts if f.relation == "LIVES_IN"}
    boston, denver = lives["Boston"], lives["Denver"]
    assert denver.invalid_at is None and denver.valid_at == datetime(2024, 3, 13, tzinfo=timezone.utc)
    assert boston.invalid_at == denver.valid_at  # closed by the single-valued rule, no call
    assert boston.invalidated_by in denver.episodes
    # "love hiking on weekends" (day 1) and "really enjoy hiking in the mountains" (day 20):
    # the resolution call calls the second a duplicate, so one fact holds both episodes
    hiking = [f for f in facts if f.target_name == "hiking"]
    assert len(hiking) == 1 and len(hiking[0].episodes) == 2 and hiking[0].invalid_at is None
    assert [f.target_name for f in facts if f.relation == "FAVORITE_AUTHOR"] == ["Octavia Butler"]

    # the summary is the model's, word for word
    (summary_body,) = [body for task, _, body in recorded(vcr) if task == "summarize"]
    written = json.loads(summary_body["choices"][0]["message"]["content"])
    jane = memory.user.get("jane")
    assert jane.summary == written["summary"] and "Denver" in jane.summary
    observed = {o.key: o.text for o in memory.graph.observations(user_id="jane")}
    assert all(observed[f"llm:{o['key']}"] == o["text"] for o in written["observations"])

    # a new thread: its context recalls the other threads and the business event
    memory.thread.create(thread_id="jane-day-30", user_id="jane")
    memory.thread.add_messages("jane-day-30", messages=[
        Message(role="user", name="Jane Smith", content=QUESTION, created_at="2024-03-30T10:00:00Z")])
    memory.wait_until_processed("jane")
    block = memory.thread.get_user_context("jane-day-30").context
    for needle in ("Octavia Butler", "Denver", "payment_failed"):
        assert needle in block, needle

    usage = check_usage(memory, vcr, messages=9)
    # 9 messages: 2 extract calls (one per run), 1 resolve, 1 summarize (the question taught nothing)
    assert usage.calls_by_purpose == {"extract": 2, "resolve": 1, "summarize": 1}
    assert usage.failed_calls == 0
    assert usage.calls / 9 <= 0.5


@pytest.mark.vcr
@pytest.mark.scripted(model="llama3.1:8b")
def test_malformed_twice_falls_back_to_the_offline_extractor(make_memory: Any, vcr: Any,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    memory = make_memory(structured="json_object")
    memory.thread.create(thread_id="t1", user_id="jane")
    with caplog.at_level(logging.WARNING, logger="agent_memory.extraction.llm"):
        sent = memory.thread.add_messages("t1", messages=turns("2024-04-07T16:00:00Z", [
            "I started volunteering at the Denver Animal Shelter on Sundays.", "That's wonderful!"]))
        memory.wait_until_processed("jane")

    assert not memory.graph.episodes(user_id="jane", status="failed")  # the batch is not lost
    assert "the offline extractor handles these 2 messages" in caplog.text  # and the fallback is logged
    assert [m.content for m in memory.thread.get_messages("t1")] == [m.content for m in sent]
    assert [f.target_name for f in memory.graph.facts(user_id="jane")] == ["Denver Animal Shelter"]  # offline
    assert "Denver Animal Shelter" in (memory.user.get("jane").summary or "")
    usage = check_usage(memory, vcr, messages=2, invalid=2)
    assert usage.calls_by_purpose == {"extract": 2, "summarize": 1}


@pytest.mark.vcr
@pytest.mark.scripted
def test_rate_limit_then_success_in_the_background(make_memory: Any, calls: Any, vcr: Any) -> None:
    memory = make_memory()
    memory.thread.create(thread_id="t1", user_id="jane")
    memory.thread.add_messages("t1", messages=turns("2024-04-10T18:00:00Z", [
        "I adopted a puppy named Biscuit last weekend."]))
    memory.wait_until_processed("jane")

    assert calls.sleeps == [1.0]  # the server's retry-after, honoured without really sleeping
    assert not memory.graph.episodes(user_id="jane", status="failed")
    pets = memory.graph.facts(user_id="jane", relation="HAS_PET")
    assert [f.target_name for f in pets] == ["Biscuit"]
    usage = check_usage(memory, vcr, messages=1)
    assert usage.failed_calls == 1 and usage.calls_by_purpose == {"extract": 2, "summarize": 1}


@pytest.mark.vcr
@pytest.mark.scripted(model="qwen2.5-7b-instruct")
def test_server_without_json_schema(make_memory: Any, vcr: Any) -> None:
    """llama.cpp's server answers 500 to json_schema: the client falls back, ingestion goes on."""
    memory = make_memory()
    memory.thread.create(thread_id="t1", user_id="jane")
    memory.thread.add_messages("t1", messages=turns("2024-04-14T07:30:00Z", [
        "I bought a road bike and I'm training for a century ride in June."]))
    memory.wait_until_processed("jane")

    assert memory.llm.mode == "json_object"
    assert not memory.graph.episodes(user_id="jane", status="failed")
    assert {f.target_name for f in memory.graph.facts(user_id="jane")} == {"road bike", "century ride"}
    formats = [json.loads(r.body)["response_format"]["type"] for r in vcr.requests]
    assert formats == ["json_schema", "json_object", "json_object"]  # extract refused, extract, summarize
    usage = check_usage(memory, vcr, messages=1)
    assert usage.failed_calls == 1 and usage.calls_by_purpose == {"extract": 2, "summarize": 1}


def test_auto_builds_a_client_from_the_environment(monkeypatch: pytest.MonkeyPatch, real_embedder: Any) -> None:
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there: no call is made
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("AGENT_MEMORY_LLM_MODEL", "qwen2.5-7b-instruct")
    with Memory.ephemeral(llm="auto", embedder=real_embedder) as memory:
        assert isinstance(memory.llm, OpenAILLM)
        assert memory.llm.model == "qwen2.5-7b-instruct"
        assert str(memory.llm.client.base_url).rstrip("/") == "http://127.0.0.1:9/v1"
        assert memory.config.ingest_mode == "background"
        memory.user.add(user_id="jane", first_name="Jane")
        assert memory.graph.usage(user_id="jane").calls == 0
        memory.llm.client.close()


def test_auto_without_an_endpoint_stays_offline(monkeypatch: pytest.MonkeyPatch, real_embedder: Any) -> None:
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(key, raising=False)
    with Memory.ephemeral(llm="auto", embedder=real_embedder) as memory:
        assert memory.llm is None
        assert memory.config.ingest_mode == "inline"


def test_an_openai_key_alone_never_switches_the_model_path_on(monkeypatch: pytest.MonkeyPatch,
                                                               real_embedder: Any) -> None:
    """The key may be there for the agent's own model: sending every user's messages to a paid API
    needs an explicit ask (llm=, MemoryConfig(llm=True) or an AGENT_MEMORY_LLM* variable)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    with Memory.ephemeral(embedder=real_embedder) as memory:
        assert memory.llm is None
        assert memory.config.ingest_mode == "inline"
    with Memory.ephemeral(embedder=real_embedder, config=MemoryConfig(home=None, llm=True)) as memory:
        assert isinstance(memory.llm, OpenAILLM)  # asked for in the config: the endpoint is the environment's
        memory.llm.client.close()
    monkeypatch.setenv("AGENT_MEMORY_LLM_BASE_URL", "http://127.0.0.1:8/v1")
    assert MemoryConfig.from_env().llm is True
    with Memory.ephemeral(embedder=real_embedder) as memory:
        assert isinstance(memory.llm, OpenAILLM)
        assert str(memory.llm.client.base_url).rstrip("/") == "http://127.0.0.1:8/v1"
        memory.llm.client.close()
