"""Model calls and tokens per message on the LLM ingestion path, over the first LoCoMo conversation.

    python -m benchmarks.llm_calls                 # live if OPENAI_API_KEY / OPENAI_BASE_URL / AZURE_* is set
    python -m benchmarks.llm_calls --scripted      # force the scripted local server
    python -m benchmarks.llm_calls --per-turn      # worst case: every message processed on its own

Each LoCoMo session is one ``add_messages`` batch for the thread (the background worker then
processes the user's pending episodes together). Per batch the LLM path makes: one ``extract``
call per 20 messages, at most one ``resolve`` call (only for new facts that share an endpoint with
a current fact and that no rule settles), and at most one ``summarize`` call. Single-valued
relations and exact duplicates are settled without a call.

This drives the components directly (``LLMExtractor``, ``judge_facts``, ``summarize_with_llm``)
over a small in-benchmark graph, because the core wiring of the LLM path is done separately; the
number of calls is a property of that batching and holds for the wired pipeline if the worker
batches the same way. With no endpoint configured, requests go to ``scripts/scripted_openai_server``
with synthetic answers (facts from the offline spaCy extractor, re-serialised as the model's JSON):
calls and prompt tokens are then exact for our prompts, completion tokens only indicative.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent_memory.extraction.base import Extraction, ExtractionContext  # noqa: E402
from agent_memory.extraction.llm import LLMExtractor  # noqa: E402
from agent_memory.extraction.relations import is_single_valued  # noqa: E402
from agent_memory.ingest.judge import CandidateFact, ExistingFact, Judgement, judge_facts  # noqa: E402
from agent_memory.ingest.llm_summary import summarize_with_llm  # noqa: E402
from agent_memory.llm.base import CallRecord  # noqa: E402
from agent_memory.llm.openai import OpenAILLM  # noqa: E402
from agent_memory.models import Episode, EpisodeSource, Role  # noqa: E402
from benchmarks.data import default_paths, load_locomo  # noqa: E402

__all__ = ["main", "run"]

# gpt-4o-mini list prices, USD per million tokens (input, output), for a rough cost line.
PRICE = (0.15, 0.60)
_WORD = re.compile(r"[a-z0-9']{3,}")
_STOP = frozenset("the and for you your with that this was are have has had not but just what about they "
                  "them she her his him its it's i'm i've from been were will would can could".split())


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold())) - _STOP


class MiniGraph:
    """Just enough of a user's graph for realistic context: entity names, current and closed facts.

    Stands in for the core's store while the LLM path is wired: "nearby" is word overlap with the
    batch; single-valued relations and ``ends`` close facts by rule; verdicts close or merge.
    """

    def __init__(self, user: str) -> None:
        self.user = user
        self.entities: dict[str, str] = {user.casefold(): user}
        self.current: dict[str, ExistingFact] = {}
        self.closed_count = 0
        self._closed: list[str] = []
        self._seq = 0

    def nearby_entities(self, batch: list[Episode], k: int) -> list[str]:
        words = _words(" ".join(e.content for e in batch))
        hits = sorted((n for n in self.entities.values() if n != self.user and _words(n) & words),
                      key=lambda n: -len(_words(n) & words))
        return [self.user, *hits[: k - 1]]

    def nearby_facts(self, batch: list[Episode], k: int) -> list[str]:
        words = _words(" ".join(e.content for e in batch))
        scored = sorted(((len(_words(f.fact) & words), f.fact) for f in self.current.values()), reverse=True)
        return [fact for score, fact in scored[:k] if score]

    def stage(self, extractions: list[Extraction]) -> tuple[list[CandidateFact], list[ExistingFact]]:
        """Candidates from the extractions (``ends`` facts close at once); existing facts sharing an end."""
        new: list[CandidateFact] = []
        for x in extractions:
            for name in [e.name for e in x.entities] + [n for f in x.facts for n in (f.source, f.target)]:
                self.entities.setdefault(name.casefold(), name)
            for f in x.facts:
                if f.ends:
                    self._close([u for u, old in self.current.items()
                                 if (old.source, old.relation, old.target) == (f.source, f.relation, f.target)])
                    continue
                self._seq += 1
                new.append(CandidateFact(key=f"c{self._seq}", source=f.source, relation=f.relation,
                                         target=f.target, fact=f.fact, valid_at=f.valid_at))
        ends = {n.casefold() for c in new for n in (c.source, c.target)}
        existing = [f for f in self.current.values() if {f.source.casefold(), f.target.casefold()} & ends]
        return new, existing

    def commit(self, new: list[CandidateFact], verdicts: list[Judgement]) -> tuple[list[str], list[str]]:
        """Apply verdicts; returns (facts learned, facts closed) as sentences, for the summary."""
        learned: list[str] = []
        for cand, verdict in zip(new, verdicts):
            if verdict.duplicate_of:
                continue
            self._close(verdict.contradicts)
            if is_single_valued(cand.relation):
                self._close([u for u, old in self.current.items()
                             if (old.source, old.relation) == (cand.source, cand.relation)])
            self.current[cand.key] = ExistingFact(uuid=cand.key, **cand.model_dump(exclude={"key"}))
            learned.append(cand.fact)
        closed, self._closed = self._closed, []
        return learned, closed

    def _close(self, uuids: list[str]) -> None:
        for uuid in uuids:
            old = self.current.pop(uuid, None)
            if old is not None:
                self.closed_count += 1
                self._closed.append(old.fact)


def run(llm: OpenAILLM, *, per_turn: bool = False, known: int = 30, conversation: int = 0) -> dict[str, object]:
    """Ingest one LoCoMo conversation through the LLM components; return the accounting."""
    history = load_locomo(default_paths()["locomo"], limit=conversation + 1)[conversation]
    records: list[CallRecord] = []
    llm.on_call = records.append
    user = history.sessions[0].turns[0].speaker or "user"
    graph, extractor = MiniGraph(user), LLMExtractor(llm)
    messages, summary = 0, ""
    observations: dict[str, str] = {}
    for session in history.sessions:
        episodes = [Episode(uuid=t.tid, user_id="u", thread_id=session.sid, source=EpisodeSource.message,
                            role=Role.user, name=t.speaker, content=t.text, reference_time=session.date)
                    for t in session.turns]
        batches = [[e] for e in episodes] if per_turn else [episodes]
        for batch in batches:
            messages += len(batch)
            ctx = ExtractionContext(user_id="u", user_name=user, known_entities=graph.nearby_entities(batch, known),
                                    known_facts=graph.nearby_facts(batch, known))
            extractions = extractor.extract(batch, ctx)
            new, existing = graph.stage(extractions)
            verdicts = judge_facts(llm, new, existing, episodes=[e.uuid for e in batch])
            learned, closed = graph.commit(new, verdicts)
            update = summarize_with_llm(llm, user_name=user, current_summary=summary or None,
                                        observations=sorted(observations.items()), new_facts=learned,
                                        closed_facts=closed, episodes=[e.uuid for e in batch])
            summary = update.summary
            for o in update.observations:
                if o.remove:
                    observations.pop(o.key, None)
                else:
                    observations[o.key] = o.text
    return _report(records, messages, graph, extractor)


def _report(records: list[CallRecord], messages: int, graph: MiniGraph, extractor: LLMExtractor) -> dict[str, object]:
    calls = Counter(r.purpose for r in records)
    prompt = sum(r.prompt_tokens for r in records)
    completion = sum(r.completion_tokens for r in records)
    return {"messages": messages, "calls": len(records), "failed_attempts": sum(not r.ok for r in records),
            "calls_by_purpose": dict(calls), "calls_per_message": len(records) / messages,
            "prompt_tokens_per_message": prompt / messages, "completion_tokens_per_message": completion / messages,
            "usd_per_1k_messages": 1000 * (prompt * PRICE[0] + completion * PRICE[1]) / 1e6 / messages,
            "facts_current": len(graph.current), "facts_closed": graph.closed_count,
            "entities": len(graph.entities), "dropped_references": extractor.stats.dropped_references}


def _scripted_server():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "scripts"))
    from scripted_openai_server import ScriptedServer, SyntheticResponder

    return ScriptedServer(responder=SyntheticResponder(), port=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scripted", action="store_true", help="use the scripted server even if an endpoint is set")
    parser.add_argument("--per-turn", action="store_true", help="process every message alone (worst case)")
    parser.add_argument("--known", type=int, default=30, help="known entities and facts offered per call")
    args = parser.parse_args(argv)
    llm = None if args.scripted else OpenAILLM.from_env()
    server = None
    if llm is None:
        server = _scripted_server()
        server.start()
        llm = OpenAILLM("gpt-4o-mini", base_url=server.url, api_key="sk-scripted")
        source = "scripted local server (synthetic answers; NOT a model: completion tokens indicative only)"
    else:
        source = f"live endpoint {llm.client.base_url} model {llm.model}"
    started = time.perf_counter()
    try:
        result = run(llm, per_turn=args.per_turn, known=args.known)
    finally:
        if server is not None:
            server.stop()
    print(f"source: {source}")
    print(f"batching: {'one message per batch (worst case)' if args.per_turn else 'one batch per session'}")
    for key, value in result.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    print(f"elapsed_s: {time.perf_counter() - started:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

