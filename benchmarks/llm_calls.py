"""Model calls and tokens per message on the wired LLM path, over the first LoCoMo conversation.

    python -m benchmarks.llm_calls                      # live if OPENAI_API_KEY / OPENAI_BASE_URL / AZURE_* is set
    python -m benchmarks.llm_calls --scripted           # force the scripted local server
    python -m benchmarks.llm_calls --adds session       # one add_messages call per session only
    python -m benchmarks.llm_calls --adds message --gap 0.3 --debounce 0.2   # messages slower than the debounce

This drives the real thing: ``Memory(llm=OpenAILLM(...))`` with its background worker and
debounce. Each LoCoMo session is a thread, and its messages are added either one
``add_messages`` call per message, as a chat loop would (``--adds message``), or in one call per
session (``--adds session``); by default both are run, each in a fresh memory. After a session the
benchmark calls ``wait_until_processed`` (sessions are days apart). The figures come from
``memory.graph.usage``: every HTTP attempt is a call, failed and retried ones included.

What a batch costs: one ``extract`` call per 10 messages (``MemoryConfig.llm_batch_messages``),
at most one ``resolve`` call (only for new facts that share an endpoint with a current fact or
with a fact of an earlier message of the batch, and that no rule settles), and at most one
``summarize`` call per worker run (none when nothing was learned or closed). So the calls per
message depend on how many messages a batch holds: in a chat loop, on how many arrive within
the debounce window (``--debounce``, default ``MemoryConfig.llm_debounce_seconds``) or while
the worker is busy. ``--gap`` spaces the per-message adds (seconds); the ratio of gap to debounce
is what matters, so a scaled-down pair (``--gap 0.3 --debounce 0.2``) shows in a few minutes what
a human-paced chat with a 1 s debounce does.

With no endpoint configured, requests go to ``scripts/scripted_openai_server`` with synthetic
answers (the offline spaCy extractor's facts re-serialised as the model's JSON, duplicates for
same-endpoint facts, summaries strung from the newest facts): calls and prompt tokens are then
exact for our prompts, completion tokens only indicative, and memory quality is not measured.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent_memory import Memory, MemoryConfig, Message  # noqa: E402
from agent_memory.llm.openai import OpenAILLM  # noqa: E402
from benchmarks.data import History, default_paths, load_locomo  # noqa: E402

__all__ = ["main", "run"]

# gpt-4o-mini list prices, USD per million tokens (input, output), for a rough cost line.
PRICE = (0.15, 0.60)
USER_ID = "locomo"


def run(llm: Any, *, adds: str = "message", gap: float = 0.0, debounce: float | None = None,
        history: History | None = None, embedder: Any = None) -> dict[str, object]:
    """Ingest one LoCoMo conversation through ``Memory(llm=llm)``; return the accounting.

    Args:
        llm: the model client (a fresh one per run: its on_call hook is the memory's).
        adds: ``"message"`` (one add_messages call per message) or ``"session"`` (one per session).
        gap: seconds between per-message adds.
        debounce: the worker's debounce window (default: MemoryConfig's).
        history: the conversation (default: the first LoCoMo conversation).
        embedder: the embedder (default: MiniLM).
    """
    if adds not in ("message", "session"):
        raise ValueError(f"adds must be 'message' or 'session', got {adds!r}")
    history = history or load_locomo(default_paths()["locomo"], limit=1)[0]
    speaker = history.sessions[0].turns[0].speaker or "User"
    config = MemoryConfig(home=None, vector_backend="exact")
    if debounce is not None:
        config = config.model_copy(update={"llm_debounce_seconds": debounce})
    started = time.perf_counter()
    with Memory.ephemeral(llm=llm, embedder=embedder, config=config) as memory:
        memory.user.add(user_id=USER_ID, first_name=speaker)
        messages = 0
        for session in history.sessions:
            thread_id = f"{history.hid}-{session.sid}"
            memory.thread.create(thread_id=thread_id, user_id=USER_ID)
            batch = [Message(role="user", name=t.speaker, content=t.text,
                             created_at=session.date + timedelta(seconds=i)) for i, t in enumerate(session.turns)]
            if adds == "session":
                memory.thread.add_messages(thread_id, messages=batch)
            else:
                for i, message in enumerate(batch):
                    if i and gap:
                        time.sleep(gap)
                    memory.thread.add_messages(thread_id, messages=[message])
            messages += len(batch)
            memory.wait_until_processed(USER_ID)
        return _report(memory, messages, time.perf_counter() - started)


def _report(memory: Memory, messages: int, elapsed: float) -> dict[str, object]:
    usage = memory.graph.usage(user_id=USER_ID)
    facts = memory.graph.facts(user_id=USER_ID, limit=100_000)
    return {
        "messages": messages,
        "calls": int(usage.calls),
        "failed_calls": int(usage.failed_calls),
        "calls_by_purpose": {k: int(v) for k, v in usage.calls_by_purpose.items()},
        "calls_per_message": usage.calls / messages,
        "prompt_tokens_per_message": usage.prompt_tokens / messages,
        "completion_tokens_per_message": usage.completion_tokens / messages,
        "usd_per_1k_messages": 1000 * (usage.prompt_tokens * PRICE[0] + usage.completion_tokens * PRICE[1]) / 1e6
        / messages,
        "mean_call_latency_ms": usage.latency_ms / max(usage.calls, 1),
        "episodes_failed": len(memory.graph.episodes(user_id=USER_ID, status="failed", limit=100_000)),
        "facts_current": sum(f.invalid_at is None and f.expired_at is None for f in facts),
        "facts_closed": sum(f.invalid_at is not None or f.expired_at is not None for f in facts),
        "entities": len(memory.graph.entities(user_id=USER_ID, limit=100_000)),
        "elapsed_s": elapsed,
    }


def _scripted_server():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "scripts"))
    from scripted_openai_server import ScriptedServer, SyntheticResponder

    return ScriptedServer(responder=SyntheticResponder(), port=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scripted", action="store_true", help="use the scripted server even if an endpoint is set")
    parser.add_argument("--adds", choices=["message", "session", "both"], default="both",
                        help="one add_messages call per message, per session, or both runs (default)")
    parser.add_argument("--gap", type=float, default=0.0, help="seconds between per-message adds (default 0)")
    parser.add_argument("--debounce", type=float, default=None,
                        help="the worker's debounce window in seconds (default: MemoryConfig's, 1.0)")
    args = parser.parse_args(argv)
    live = None if args.scripted else OpenAILLM.from_env()
    server = None
    if live is None:
        server = _scripted_server()
        server.start()
        source = "scripted local server (synthetic answers; NOT a model: completion tokens indicative only)"
    else:
        source = f"live endpoint {live.client.base_url} model {live.model}"
    from agent_memory.embedding.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    history = load_locomo(default_paths()["locomo"], limit=1)[0]
    print(f"source: {source}")
    print(f"conversation: {history.hid}, {len(history.sessions)} sessions, "
          f"{sum(len(s.turns) for s in history.sessions)} messages, each session a thread")
    try:
        for adds in (["message", "session"] if args.adds == "both" else [args.adds]):
            llm = (OpenAILLM("gpt-4o-mini", base_url=server.url, api_key="sk-scripted") if server is not None
                   else OpenAILLM.from_env())
            result = run(llm, adds=adds, gap=args.gap, debounce=args.debounce, history=history, embedder=embedder)
            llm.client.close()
            how = ("one add_messages call per message" + (f", {args.gap} s apart" if args.gap else ", back to back")
                   if adds == "message" else "one add_messages call per session")
            debounce = args.debounce if args.debounce is not None else MemoryConfig().llm_debounce_seconds
            print(f"\n== {how}; debounce {debounce} s; wait_until_processed after each session")
            for key, value in result.items():
                print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
