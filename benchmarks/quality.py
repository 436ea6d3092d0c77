"""Evidence recall and coverage of agent-memory's context, next to the turn baselines, per data set.

For each history (a LoCoMo conversation, a LongMemEval haystack) one fresh in-memory user is
built through the public API only:

- every session is a thread; its turns are ``Message(role, name=speaker, content, created_at)``
  added with one ``thread.add_messages`` call per session; ``created_at`` is the session's date
  plus one second per turn (so time order inside a session is kept);
- the uuid of each message we send is kept with the benchmark's turn id: coverage then follows
  provenance only (an episode covers its own turn, a fact the turns of its ``episodes``;
  entities, observations and the user summary cover nothing);
- recall@k: ``graph.search(scope="episodes", limit=20)`` with the question as query; its ranking
  is memory's fused episode ranking (vector + BM25, boosted by the episodes of matching facts);
  the first k episodes are scored like the baselines' first k turns;
- coverage@B: the block of ``get_user_context`` at ``token_budget=B``, for each B; what counts is
  exactly ``UserContext.facts`` and ``UserContext.episodes`` of that block, and its tokens.

How the question is asked: when a history has one question (LongMemEval), exactly as an app
would: a new thread, the question added as its latest user message (dated at the question's
date), then ``thread.get_user_context``. When a history carries many questions (LoCoMo, ~200
per conversation), writing each into the graph would change what the next one is asked
against; there the same read path is called with ``context.get(user_id, query=question)``,
which is what ``get_user_context`` does for a thread whose only message is the question.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from agent_memory import Memory
from agent_memory.embedding.base import Embedder
from agent_memory.errors import EmptyContentError
from agent_memory.models import Message
from agent_memory.validation import check_content

from .baselines import BASELINES, TurnBaselines
from .data import History
from .metrics import BUDGETS, KS, Scores, coverage, percentile, recall_at_k

__all__ = ["DatasetResult", "evaluate_history", "ingest_history", "run_dataset", "score_baselines", "score_memory"]

METHOD = "agent_memory"


@dataclass
class DatasetResult:
    """Scores of every method on one data set, plus timings of memory's own calls."""

    name: str
    scores: dict[str, Scores] = field(default_factory=dict)
    context_ms: list[float] = field(default_factory=list)
    search_ms: list[float] = field(default_factory=list)
    ingest_seconds: float = 0.0
    ingested_messages: int = 0
    histories: int = 0
    facts: int = 0
    headline: tuple[str, ...] | None = None  # categories of the headline figures (None = all)
    over_budget: int = 0  # blocks larger than their budget (must stay 0)

    def summary(self) -> dict[str, Any]:
        methods = {m: self.scores[m].overall(self.headline) for m in self.scores}
        by_cat: dict[str, dict[str, Any]] = {}
        for m, s in self.scores.items():
            for cat, vals in s.by_category().items():
                by_cat.setdefault(cat, {})[m] = vals
        return {
            "methods": methods,
            "by_category": by_cat,
            "headline_categories": list(self.headline) if self.headline else "all",
            "all_categories": {m: self.scores[m].overall() for m in self.scores},
            "histories": self.histories,
            "questions": len(self.scores[METHOD]) if METHOD in self.scores else 0,
            "facts_extracted": self.facts,
            "ingest": {"messages": self.ingested_messages, "seconds": round(self.ingest_seconds, 2),
                       "messages_per_s": round(self.ingested_messages / self.ingest_seconds, 1)
                       if self.ingest_seconds else None},
            "get_user_context_ms": _lat(self.context_ms),
            "graph_search_ms": _lat(self.search_ms),
            "blocks_over_budget": self.over_budget,
        }


def _lat(values: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 50), 2), "p95": round(percentile(values, 95), 2), "n": len(values)}


def _sendable(text: str) -> bool:
    """Whether memory accepts this text as a message (LongMemEval has a few blank turns)."""
    try:
        check_content(text, "turn", max_chars=10**9)
    except EmptyContentError:
        return False
    return True


def ingest_history(memory: Memory, history: History, user_id: str) -> dict[str, str]:
    """Every session as a thread, one ``add_messages`` per session; returns message uuid -> turn id."""
    memory.user.add(user_id=user_id)
    by_uuid: dict[str, str] = {}
    for n, session in enumerate(history.sessions):
        thread_id = f"{user_id}:s{n}"
        memory.thread.create(thread_id=thread_id, user_id=user_id)
        kept = [(i, t) for i, t in enumerate(session.turns) if _sendable(t.text)]  # a blank turn is refused
        messages = [Message(role=t.role, name=t.speaker, content=t.text,
                            created_at=session.date + timedelta(seconds=i)) for i, t in kept]
        for message, (_, turn) in zip(messages, kept):
            by_uuid[message.uuid] = turn.tid
        if not messages:
            continue
        sent = memory.thread.add_messages(thread_id, messages=messages)
        assert [m.uuid for m in sent] == [m.uuid for m in messages]
    return by_uuid


def _covered(ctx: Any, by_uuid: dict[str, str]) -> set[str]:
    turns = {by_uuid[e.uuid] for e in ctx.episodes if e.uuid in by_uuid}
    for f in ctx.facts:
        turns |= {by_uuid[u] for u in f.episodes if u in by_uuid}
    return turns


def score_baselines(history: History, result: DatasetResult, embedder: Embedder, *,
                    budgets: tuple[int, ...] = BUDGETS, ks: tuple[int, ...] = KS) -> None:
    """BM25, dense and RRF over the history's turns, scored like memory."""
    base = TurnBaselines(history, embedder)
    for name in BASELINES:
        result.scores.setdefault(name, Scores())
    for q in history.questions:
        for name, order in base.rankings(q.text).items():
            vals = {f"recall@{k}": recall_at_k([base.turns[i].tid for i in order], q.evidence, k) for k in ks}
            for b in budgets:
                chosen, tokens = base.block(order, b)
                vals[f"coverage@{b}"] = coverage([base.turns[i].tid for i in chosen], q.evidence)
                vals[f"tokens@{b}"] = tokens
            result.scores[name].add(q.category, vals)


def score_memory(memory: Memory, user_id: str, by_uuid: dict[str, str], history: History, result: DatasetResult,
                 *, budgets: tuple[int, ...] = BUDGETS, ks: tuple[int, ...] = KS) -> None:
    """Ask every question of the history against a memory that holds it (see the module doc)."""
    scores = result.scores.setdefault(METHOD, Scores())
    one_question = len(history.questions) == 1
    for n, q in enumerate(history.questions):
        t0 = time.perf_counter()
        hits = memory.graph.search(user_id=user_id, query=q.text, scope="episodes", limit=max(ks))
        result.search_ms.append((time.perf_counter() - t0) * 1000)
        ranked = [by_uuid.get(h.episode.uuid) for h in hits if h.episode is not None]
        vals = {f"recall@{k}": recall_at_k(ranked, q.evidence, k) for k in ks}
        if one_question:
            thread_id = f"{user_id}:q{n}"
            memory.thread.create(thread_id=thread_id, user_id=user_id)
            memory.thread.add_messages(thread_id, messages=[Message(role="user", content=q.text, created_at=q.date)])
        for b in budgets:
            t0 = time.perf_counter()
            if one_question:
                ctx = memory.thread.get_user_context(thread_id, token_budget=b)
            else:
                ctx = memory.context.get(user_id=user_id, query=q.text, token_budget=b)
            result.context_ms.append((time.perf_counter() - t0) * 1000)
            if ctx.token_count > b:
                result.over_budget += 1
            vals[f"coverage@{b}"] = coverage(_covered(ctx, by_uuid), q.evidence)
            vals[f"tokens@{b}"] = ctx.token_count
        scores.add(q.category, vals)


def evaluate_history(history: History, result: DatasetResult, *, embedder: Embedder,
                     memory_kwargs: Callable[[], dict[str, Any]] = dict, baselines: bool = True,
                     budgets: Iterable[int] = BUDGETS, ks: Iterable[int] = KS) -> None:
    """Score every question of one history with memory (built fresh) and, optionally, the baselines."""
    budgets, ks = tuple(budgets), tuple(ks)
    result.scores.setdefault(METHOD, Scores())
    if baselines:
        score_baselines(history, result, embedder, budgets=budgets, ks=ks)
    memory = Memory.ephemeral(embedder=embedder, **memory_kwargs())
    try:
        user_id = f"u-{history.hid}"
        t0 = time.perf_counter()
        by_uuid = ingest_history(memory, history, user_id)
        result.ingest_seconds += time.perf_counter() - t0
        result.ingested_messages += len(by_uuid)
        result.histories += 1
        result.facts += len(memory.graph.facts(user_id=user_id, limit=100_000))
        # reads embed as a memory's reads do (the model itself, no cache): the quantized model's vector of
        # a text depends on its batch-mates, so a vector cached from the baselines' batches is not the one
        # a read computes (a question with a speaker's name is embedded beside the rest of it)
        memory._core.retriever.embedder = getattr(embedder, "inner", embedder)
        score_memory(memory, user_id, by_uuid, history, result, budgets=budgets, ks=ks)
    finally:
        memory.close()


def run_dataset(name: str, histories: list[History], *, embedder: Embedder,
                memory_kwargs: Callable[[], dict[str, Any]] = dict, headline: tuple[str, ...] | None = None,
                baselines: bool = True, log: Callable[[str], None] = print) -> DatasetResult:
    """Evaluate every history of a data set; ``headline`` names the categories of the top-line figures."""
    result = DatasetResult(name=name, headline=headline)
    started = time.perf_counter()
    for i, history in enumerate(histories, 1):
        evaluate_history(history, result, embedder=embedder, memory_kwargs=memory_kwargs,
                         baselines=baselines)
        log(f"  {name} {i}/{len(histories)} {history.hid}: {len(history.turns)} turns, "
            f"{len(history.questions)} questions ({time.perf_counter() - started:.0f} s)")
    return result
