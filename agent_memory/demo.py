"""The demo the CLI runs: a user talks over several days, then a new thread recalls it all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .client import Memory
from .models import Message, UserContext

__all__ = ["DEMO_THREADS", "DemoResult", "run_demo"]

USER: dict[str, Any] = {"user_id": "jane", "email": "jane@example.com", "first_name": "Jane", "last_name": "Smith"}

# (thread id, day, [(role, text)]) - a support assistant chatting with Jane over a month.
DEMO_THREADS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("day-01", "2024-03-01T09:00:00Z", [
        ("user", "Hi! I live in Boston and I work at Acme Corp as a product designer."),
        ("assistant", "Nice to meet you, Jane. How can I help with your account today?"),
        ("user", "My favorite author is Octavia Butler, and I love hiking on weekends."),
    ]),
    ("day-05", "2024-03-05T18:30:00Z", [
        ("user", "I upgraded to the Pro plan yesterday for the design templates."),
        ("assistant", "Done: your account shows the Pro plan now."),
        ("user", "My sister Ana lives in Lisbon, I visit her every summer."),
    ]),
    ("day-20", "2024-03-20T12:15:00Z", [
        ("user", "Big news: I moved to Denver last week! Still with Acme Corp, remote now."),
        ("assistant", "Congratulations on the move! I have updated nothing yet; anything to change?"),
        ("user", "Please send invoices by email, I prefer email contact."),
    ]),
]

EVENT = {
    "event_type": "payment_failed",
    "timestamp": "2024-03-25T07:45:00Z",
    "plan": "Pro",
    "amount": 49.0,
    "currency": "USD",
    "reason": "card_expired",
}

QUESTION = ("user", "Hi again! Any book recommendations for my flight? Also, is my account okay?")


@dataclass
class DemoResult:
    """What the demo built, for the CLI to print and tests to check."""

    context: UserContext
    facts_total: int
    closed: list[str]
    sources: dict[str, str]  # fact uuid -> where it was said: "thread jane-day-20, 2024-03-20"


def run_demo(memory: Memory, *, user_id: str = "jane") -> DemoResult:
    """Seed three threads and a JSON event for a user, then build a new thread's context."""
    memory.user.add(**{**USER, "user_id": user_id})
    for thread_id, day, turns in DEMO_THREADS:
        tid = f"{user_id}-{thread_id}"
        memory.thread.create(thread_id=tid, user_id=user_id)
        memory.thread.add_messages(tid, messages=[
            Message(role=role, name="Jane Smith" if role == "user" else "Support", content=text, created_at=day)
            for role, text in turns
        ])
    memory.graph.add(user_id=user_id, type="json", data=json.dumps(EVENT), created_at=str(EVENT["timestamp"]))
    new_thread = f"{user_id}-day-30"
    memory.thread.create(thread_id=new_thread, user_id=user_id)
    memory.thread.add_messages(new_thread, messages=[
        Message(role=QUESTION[0], name="Jane Smith", content=QUESTION[1], created_at="2024-03-30T10:00:00Z")])
    memory.wait_until_processed(user_id)
    facts = memory.graph.facts(user_id=user_id, limit=1000)
    closed = [f"{f.fact} ({f.valid_at:%Y-%m-%d} - {f.invalid_at:%Y-%m-%d})" for f in facts
              if f.invalid_at is not None and f.valid_at is not None]
    ctx = memory.thread.get_user_context(new_thread)
    said = {e.uuid: e for e in memory.graph.episodes(user_id=user_id, limit=1000)}
    sources = {}
    for f in ctx.facts:
        first = next((said[u] for u in f.episodes if u in said), None)
        if first is not None:
            where = f"thread {first.thread_id}" if first.thread_id else first.source.value
            sources[f.uuid] = f"{where}, {first.reference_time:%Y-%m-%d}"
    return DemoResult(context=ctx, facts_total=len(facts), closed=closed, sources=sources)
