"""Opt-in live tier: the seed scenario against a real OpenAI-compatible server (never in CI).

    AGENT_MEMORY_LIVE_BASE_URL=http://127.0.0.1:8080/v1 AGENT_MEMORY_LIVE_MODEL=qwen2.5 pytest -m live tests/llm

Skipped unless ``AGENT_MEMORY_LIVE_BASE_URL`` is set (``AGENT_MEMORY_LIVE_API_KEY`` for a hosted
endpoint). It asserts what must hold whatever the model answers: nothing is lost or left failed,
no assistant line becomes the user's fact, and the move to Denver leaves Denver as the current
residence with Boston closed (by the single-valued rule, whatever relation the model wrote).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from test_memory_llm import THREADS, turns  # rootdir-relative: tests/llm is on sys.path

from agent_memory import Memory, MemoryConfig
from agent_memory.llm import OpenAILLM

BASE_URL = os.environ.get("AGENT_MEMORY_LIVE_BASE_URL")
pytestmark = [pytest.mark.live, pytest.mark.skipif(not BASE_URL, reason="set AGENT_MEMORY_LIVE_BASE_URL to run")]


def test_seed_scenario_on_a_live_model(real_embedder: Any) -> None:
    llm = OpenAILLM(os.environ.get("AGENT_MEMORY_LIVE_MODEL") or "local", base_url=BASE_URL,
                    api_key=os.environ.get("AGENT_MEMORY_LIVE_API_KEY") or None)
    config = MemoryConfig(home=None, vector_backend="exact", llm_debounce_seconds=1.0)
    with Memory.ephemeral(llm=llm, embedder=real_embedder, config=config) as memory:
        memory.user.add(user_id="jane", first_name="Jane", last_name="Smith")
        sent = []
        for thread_id, start, texts in THREADS:
            memory.thread.create(thread_id=thread_id, user_id="jane")
            sent += memory.thread.add_messages(thread_id, messages=turns(start, texts))
        memory.wait_until_processed("jane")
        assert not memory.graph.episodes(user_id="jane", status="failed")
        facts = memory.graph.facts(user_id="jane", limit=1000)
        assistant = {m.uuid for m in sent if m.role.value == "assistant"}
        assert not [f for f in facts if set(f.episodes) <= assistant]  # no fact from the assistant alone
        lives = {f.target_name: f for f in facts if f.relation == "LIVES_IN" and f.source_name == "Jane Smith"}
        assert "Denver" in lives and lives["Denver"].invalid_at is None
        if "Boston" in lives:
            assert lives["Boston"].invalid_at is not None
        usage = memory.graph.usage(user_id="jane")
        assert usage.calls / len(sent) <= 0.5
