"""LLM tests: replayed from vcrpy cassettes (``tests/llm/cassettes/``), never the network.

Tests marked ``@pytest.mark.vcr`` replay with record mode ``none`` (pytest-recording's default),
matching method, URL and body. The endpoint (base URL and model) comes from the cassette's first
recorded request, so cassettes re-recorded against a live endpoint replay unchanged; while
recording, ``scripts/record_cassettes.py`` passes it in ``AGENT_MEMORY_RECORD_*`` variables.
Tests marked ``scripted`` need the scripted server's error cases and are not re-recorded live.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent_memory.llm.base import CallRecord
from agent_memory.llm.openai import OpenAILLM
from agent_memory.models import Episode, EpisodeSource, Role
from agent_memory.testing.llm import ScriptedLLM

FILTERED_HEADERS = ["authorization", "api-key", "x-api-key", "openai-organization"]


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    """No ``record_mode`` here, so ``--record-mode`` (default none) decides."""
    return {
        "filter_headers": FILTERED_HEADERS,
        "decode_compressed_response": True,
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
    }


@dataclass
class Endpoint:
    """Where the cassette's requests went."""

    base_url: str
    model: str
    api_key: str = "sk-test"


@dataclass
class Calls:
    """Collects CallRecords and the waits a client asked for."""

    records: list[CallRecord] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    @property
    def ok(self) -> list[CallRecord]:
        return [r for r in self.records if r.ok]


@pytest.fixture
def endpoint(request: pytest.FixtureRequest, vcr_cassette_dir: str, default_cassette_name: str) -> Endpoint:
    """The recording endpoint (while recording), else the one in the cassette's first request."""
    recording = os.environ.get("AGENT_MEMORY_RECORD_BASE_URL")
    if recording:
        marker = request.node.get_closest_marker("scripted")
        model = (marker.kwargs.get("model") if marker else None) or os.environ["AGENT_MEMORY_RECORD_MODEL"]
        return Endpoint(recording, model, os.environ.get("AGENT_MEMORY_RECORD_API_KEY", "sk-test"))
    path = Path(vcr_cassette_dir) / f"{default_cassette_name}.yaml"
    if not path.exists():
        pytest.fail(f"missing cassette {path}; record it with scripts/record_cassettes.py")
    first = yaml.safe_load(path.read_text())["interactions"][0]["request"]
    return Endpoint(first["uri"].rsplit("/chat/completions", 1)[0], json.loads(first["body"])["model"])


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def make_llm(endpoint: Endpoint, calls: Calls) -> Iterator[Callable[..., OpenAILLM]]:
    """Build an OpenAILLM on the cassette's endpoint that records calls and never really sleeps."""
    made: list[OpenAILLM] = []

    def make(**kwargs: Any) -> OpenAILLM:
        llm = OpenAILLM(endpoint.model, api_key=endpoint.api_key, base_url=endpoint.base_url,
                        sleep=calls.sleeps.append, **kwargs)
        llm.on_call = calls.records.append
        made.append(llm)
        return llm

    yield make
    for llm in made:
        llm.client.close()


def make_episodes(user_id: str, start: str, turns: list[tuple[str | None, str]], *,
                  gap_s: int = 30) -> list[Episode]:
    """Message episodes from (speaker, text) turns; speaker None = the assistant. Fixed uuids."""
    t0 = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(timezone.utc)
    out = []
    for i, (speaker, text) in enumerate(turns):
        role = Role.assistant if speaker is None else Role.user
        out.append(Episode(uuid=f"{start[:10]}-{i:02d}", user_id=user_id, thread_id=f"thread-{start[:10]}",
                           source=EpisodeSource.message, role=role, name=speaker, content=text,
                           reference_time=t0 + timedelta(seconds=gap_s * i)))
    return out


@pytest.fixture(name="make_episodes")
def make_episodes_fixture() -> Callable[..., list[Episode]]:
    return make_episodes


@pytest.fixture
def make_llm_offline() -> Callable[..., ScriptedLLM]:
    """A ScriptedLLM factory; with no answers queued, any call fails the test."""
    return ScriptedLLM
