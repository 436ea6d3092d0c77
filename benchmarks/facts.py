"""Fact-extraction benchmark on LoCoMo's own annotations (run by hand).

    python -m benchmarks.facts [--conversations N] [--show 50] [--base-url URL --model NAME]

Reference: LoCoMo's ``observation`` annotations, per session and speaker, each with its evidence
turn(s) (``../shared/data/locomo/``, research use only, never committed). Every turn becomes one
message episode named after its speaker; the extractor runs over all of them.

- **Recall**: a reference observation is found when a fact extracted from one of its evidence
  turns states it: cosine similarity of the two sentences (the bundled MiniLM embedder) at or
  above a threshold. The threshold is calibrated on the data: the 95th percentile of the
  similarity between observations and facts of *unrelated* turns of the same conversation (so
  about 5 % of unrelated pairs would count as a match).
- **Precision**: the share of facts whose turn has a reference observation (any), and the
  share that match one of them (the strict reading).
- **Attribution errors**: facts that match an observation about one speaker but name the other
  as their subject.
- **Closures**: facts that end another (``ends``, or a new value of a single-valued relation
  such as LIVES_IN for the same subject); a closure is counted wrong when the closing fact
  matches no reference observation of its turn.
- Calls, tokens and CPU seconds per message (CPU time: the machine may be shared).

The model path runs when ``--base-url`` names an OpenAI-compatible server (llama.cpp, vLLM,
Ollama, ...), side by side with the offline extractor.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from agent_memory.extraction import ExtractedFact, ExtractionContext
from agent_memory.extraction.relations import is_single_valued
from agent_memory.models import Episode, EpisodeSource, Role
from benchmarks.data import default_paths, parse_evidence, parse_locomo_date

__all__ = ["Conversation", "Observation", "Scored", "load", "score"]


@dataclass
class Observation:
    """One LoCoMo observation: who it is about, what it says, which turns show it."""

    speaker: str
    text: str
    turns: tuple[str, ...]


@dataclass
class Conversation:
    """One LoCoMo conversation as episodes, with its reference observations."""

    sample_id: str
    speakers: tuple[str, str]
    episodes: list[Episode]
    turn_of: dict[str, str]  # episode uuid -> dia_id
    observations: list[Observation]


@dataclass
class Scored:
    """The figures for one extractor over a set of conversations."""

    name: str
    messages: int = 0
    facts: int = 0
    observations: int = 0
    found: int = 0
    facts_on_annotated_turns: int = 0
    facts_matching: int = 0
    attribution_errors: int = 0
    closures: int = 0
    wrong_closures: int = 0
    cpu_s: float = 0.0
    calls: int = 0
    tokens: int = 0
    by_relation: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    matches: list[tuple[float, str, str]] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        per = max(self.messages, 1)
        return {
            "extractor": self.name, "messages": self.messages, "facts": self.facts,
            "recall": _ratio(self.found, self.observations),
            "precision_annotated_turn": _ratio(self.facts_on_annotated_turns, self.facts),
            "precision_matching": _ratio(self.facts_matching, self.facts),
            "attribution_errors": self.attribution_errors, "closures": self.closures,
            "wrong_closures": self.wrong_closures, "calls_per_message": round(self.calls / per, 3),
            "tokens_per_message": round(self.tokens / per, 1), "cpu_s_per_message": round(self.cpu_s / per, 4),
        }


def _ratio(a: int, b: int) -> float:
    return round(a / b, 3) if b else 0.0


def load(path: Path, limit: int | None = None) -> list[Conversation]:
    """LoCoMo conversations as message episodes (one per turn) with their observations."""
    data = json.loads(path.read_text())
    out = []
    for conv in data[:limit]:
        c = conv["conversation"]
        speakers = (c["speaker_a"], c["speaker_b"])
        episodes: list[Episode] = []
        turn_of: dict[str, str] = {}
        nums = sorted(int(k.split("_")[1]) for k in c if re.fullmatch(r"session_\d+", k))
        for n in nums:
            start = parse_locomo_date(c[f"session_{n}_date_time"])
            for i, turn in enumerate(c[f"session_{n}"]):
                text = str(turn.get("text", "")).strip()
                if not text:
                    continue
                ep = Episode(user_id=conv["sample_id"], source=EpisodeSource.message, role=Role.user,
                             name=turn["speaker"], content=text, reference_time=start + timedelta(seconds=i))
                episodes.append(ep)
                turn_of[ep.uuid] = turn["dia_id"]
        known = set(turn_of.values())
        observations = []
        for session in conv["observation"].values():
            for speaker, items in session.items():
                for text, evidence in items:
                    turns = parse_evidence(evidence, known)
                    if turns:
                        observations.append(Observation(speaker, text, turns))
        out.append(Conversation(conv["sample_id"], speakers, episodes, turn_of, observations))
    return out


def calibrate(embedder: Any, convs: Sequence[Conversation], facts: dict[str, list[list[ExtractedFact]]],
              quantile: float = 0.95, seed: int = 7) -> float:
    """The similarity that ``1 - quantile`` of unrelated (fact, observation) pairs reach."""
    rng = random.Random(seed)
    sims: list[float] = []
    for conv in convs:
        pairs = []
        flat = [(conv.turn_of[ep.uuid], f.fact) for ep, fs in zip(conv.episodes, facts[conv.sample_id], strict=True)
                for f in fs]
        for _ in range(min(400, len(flat) * 4)):
            if not flat or not conv.observations:
                break
            turn, fact = rng.choice(flat)
            obs = rng.choice(conv.observations)
            if turn not in obs.turns:
                pairs.append((fact, obs.text))
        if pairs:
            a = embedder.embed_batch([p[0] for p in pairs])
            b = embedder.embed_batch([p[1] for p in pairs])
            sims.extend(float(x) for x in np.sum(a * b, axis=1))
    return float(np.quantile(sims, quantile)) if sims else 0.5


def score(name: str, embedder: Any, convs: Sequence[Conversation], facts: dict[str, list[list[ExtractedFact]]],
          threshold: float) -> Scored:
    """Recall, precision, attribution and closures of extracted ``facts`` against the observations."""
    out = Scored(name)
    for conv in convs:
        per_turn: dict[str, list[ExtractedFact]] = defaultdict(list)
        for ep, fs in zip(conv.episodes, facts[conv.sample_id], strict=True):
            per_turn[conv.turn_of[ep.uuid]].extend(fs)
        obs_by_turn: dict[str, list[Observation]] = defaultdict(list)
        for obs in conv.observations:
            for t in obs.turns:
                obs_by_turn[t].append(obs)
        all_facts = [f for fs in per_turn.values() for f in fs]
        vec = _embed(embedder, [f.fact for f in all_facts])
        ovec = _embed(embedder, [o.text for o in conv.observations])
        fidx = {id(f): i for i, f in enumerate(all_facts)}
        oidx = {id(o): i for i, o in enumerate(conv.observations)}
        matched_fact: dict[int, Observation] = {}
        for obs in conv.observations:
            best = 0.0
            for t in obs.turns:
                for f in per_turn.get(t, []):
                    sim = float(vec[fidx[id(f)]] @ ovec[oidx[id(obs)]])
                    if sim >= threshold and (id(f) not in matched_fact or sim > best):
                        matched_fact[id(f)] = obs
                    best = max(best, sim)
                    if sim >= threshold:
                        out.matches.append((sim, f.fact, obs.text))
            out.found += best >= threshold
        out.observations += len(conv.observations)
        out.messages += len(conv.episodes)
        speakers = set(conv.speakers)
        for turn, fs in per_turn.items():
            for f in fs:
                out.facts += 1
                out.by_relation[f.relation] += 1
                out.facts_on_annotated_turns += turn in obs_by_turn
                obs = matched_fact.get(id(f))
                out.facts_matching += obs is not None
                if obs is not None and f.source in speakers and f.source != obs.speaker:
                    out.attribution_errors += 1
        _closures(out, conv, facts[conv.sample_id], matched_fact)
    return out


def _closures(out: Scored, conv: Conversation, facts: list[list[ExtractedFact]],
              matched: dict[int, Observation]) -> None:
    current: dict[tuple[str, str], str] = {}
    for fs in facts:
        for f in fs:
            key = (f.source.casefold(), f.relation)
            closes = f.ends or (is_single_valued(f.relation) and key in current
                                and current[key] != f.target.casefold())
            if closes:
                out.closures += 1
                out.wrong_closures += id(f) not in matched
            if not f.ends:
                current[key] = f.target.casefold()


def _embed(embedder: Any, texts: list[str]) -> np.ndarray:
    return embedder.embed_batch(texts) if texts else np.zeros((0, embedder.dimensions), dtype=np.float32)


def run_offline(convs: Sequence[Conversation]) -> tuple[dict[str, list[list[ExtractedFact]]], float, int]:
    """Facts per episode from the offline extractor, its CPU seconds, and 0 calls."""
    from agent_memory.extraction import OfflineExtractor

    ex = OfflineExtractor()
    ex.extract([convs[0].episodes[0]], ExtractionContext(user_id="w", user_name=convs[0].speakers[0]))
    out: dict[str, list[list[ExtractedFact]]] = {}
    start = time.process_time()
    for conv in convs:
        ctx = ExtractionContext(user_id=conv.sample_id, user_name=conv.speakers[0])
        out[conv.sample_id] = [x.facts for x in ex.extract(conv.episodes, ctx)]
    return out, time.process_time() - start, 0


def run_model(convs: Sequence[Conversation], base_url: str, model: str,
              batch: int) -> tuple[dict[str, list[list[ExtractedFact]]], float, int, int]:
    """Facts per episode from the model path against an OpenAI-compatible server."""
    from agent_memory.extraction import LLMExtractor
    from agent_memory.llm import OpenAILLM

    llm = OpenAILLM(model, base_url=base_url)
    tokens = [0, 0]

    def count(record: Any) -> None:
        tokens[0] += 1
        tokens[1] += record.prompt_tokens + record.completion_tokens

    llm.on_call = count
    ex = LLMExtractor(llm, max_batch_messages=batch)
    out: dict[str, list[list[ExtractedFact]]] = {}
    start = time.perf_counter()
    for conv in convs:
        ctx = ExtractionContext(user_id=conv.sample_id, user_name=conv.speakers[0])
        out[conv.sample_id] = [x.facts for x in ex.extract(conv.episodes, ctx)]
    return out, time.perf_counter() - start, tokens[0], tokens[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.facts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--locomo", type=Path, default=default_paths()["locomo"])
    parser.add_argument("--conversations", type=int, default=None, help="first N conversations (default all)")
    parser.add_argument("--turns", type=int, default=None, help="first N turns of each conversation")
    parser.add_argument("--show", type=int, default=0, help="print N random matches for hand-checking")
    parser.add_argument("--base-url", help="also run the model path against this OpenAI-compatible server")
    parser.add_argument("--model", default="local", help="model name for --base-url")
    parser.add_argument("--batch", type=int, default=8, help="messages per model call")
    parser.add_argument("--threshold", type=float, help="use this match threshold instead of calibrating")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    if not args.locomo.exists():
        print(f"no LoCoMo data at {args.locomo}", file=sys.stderr)
        return 2
    from agent_memory.embedding import default_embedder

    convs = load(args.locomo, args.conversations)
    if args.turns:
        for conv in convs:
            conv.episodes = conv.episodes[: args.turns]
            kept = {conv.turn_of[e.uuid] for e in conv.episodes}
            conv.observations = [o for o in conv.observations if set(o.turns) & kept]
    embedder = default_embedder()
    facts, cpu, _ = run_offline(convs)
    threshold = args.threshold if args.threshold is not None else calibrate(embedder, convs, facts)
    how = "given" if args.threshold is not None else "95th percentile of unrelated pairs"
    print(f"LoCoMo: {len(convs)} conversations, {sum(len(c.episodes) for c in convs)} turns, "
          f"{sum(len(c.observations) for c in convs)} observations; match threshold {threshold:.3f} ({how})")
    results = [score("offline", embedder, convs, facts, threshold)]
    results[0].cpu_s = cpu
    if args.base_url:
        mfacts, wall, calls, tokens = run_model(convs, args.base_url, args.model, args.batch)
        scored = score(f"model ({args.model})", embedder, convs, mfacts, threshold)
        scored.cpu_s, scored.calls, scored.tokens = wall, calls, tokens  # wall seconds: the server's time
        results.append(scored)
    for r in results:
        print(json.dumps(r.row()))
        top = sorted(r.by_relation.items(), key=lambda kv: -kv[1])[:12]
        print("  relations:", ", ".join(f"{k} {v}" for k, v in top))
    if args.show:
        rng = random.Random(11)
        sample = rng.sample(results[0].matches, min(args.show, len(results[0].matches)))
        for sim, fact, obs in sorted(sample, reverse=True):
            print(f"  {sim:.3f} | {fact} | {obs}")
    if args.out:
        args.out.write_text(json.dumps({"threshold": threshold, "results": [r.row() for r in results]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
