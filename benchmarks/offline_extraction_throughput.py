"""Throughput and a precision spot-check of the offline extractor on LoCoMo turns (run by hand).

    python benchmarks/offline_extraction_throughput.py [--n 1000] [--sample 30] [--seed 7] [--sentences]

Reads ../shared/data/locomo/locomo_dev.json (see its README: research use only, never committed),
turns each turn into a message episode named after its speaker and dated by its session, runs
``OfflineExtractor.extract`` over them in batches, prints messages/s, then prints a random sample
of the extracted facts for judging by eye. ``--sentences`` measures chat-sized messages instead:
single sentences of 6-20 words cut from the same turns.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent_memory.extraction import ExtractionContext, OfflineExtractor  # noqa: E402
from agent_memory.models import Episode, EpisodeSource, Role  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "locomo" / "locomo_dev.json"


def _session_time(text: str) -> datetime:
    """LoCoMo session stamps look like "1:56 pm on 8 May, 2023"."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=timezone.utc)


def load_turns(path: Path) -> list[tuple[str, str, str, datetime]]:
    """(speaker_a, speaker, text, session time) for every turn, in conversation order."""
    out = []
    for conv in json.loads(path.read_text()):
        c = conv["conversation"]
        keys = sorted((k for k in c if k.startswith("session_") and isinstance(c[k], list)),
                      key=lambda k: int(k.split("_")[1]))
        for key in keys:
            when = _session_time(c[f"{key}_date_time"])
            out.extend((c["speaker_a"], t["speaker"], t["text"], when) for t in c[key])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=64, help="episodes per extract() call")
    ap.add_argument("--sample", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--sentences", action="store_true", help="chat-sized messages: one sentence each")
    args = ap.parse_args()

    turns = load_turns(DATA)
    if args.sentences:
        turns = [(a, spk, sent, when) for a, spk, text, when in turns
                 for sent in re.split(r"(?<=[.!?])\s+", text) if 6 <= len(sent.split()) <= 20]
        random.Random(args.seed).shuffle(turns)
    turns = turns[: args.n]
    # Each conversation is its own user's graph: speaker_a is the user, speaker_b the other party.
    items = [
        (ExtractionContext(user_id=a, user_name=a),
         Episode(user_id=a, source=EpisodeSource.message, role=Role.user if spk == a else Role.assistant,
                 name=spk, content=text, reference_time=when))
        for a, spk, text, when in turns
    ]
    episodes = [ep for _, ep in items]
    ex = OfflineExtractor()
    ex.extract(episodes[:4], items[0][0])  # load spaCy and dateparser outside the timing

    load = os.getloadavg()[0]
    start, cpu = time.perf_counter(), time.process_time()
    results = []
    for i in range(0, len(items), args.batch):
        chunk = items[i : i + args.batch]
        for user in dict.fromkeys(ctx.user_name for ctx, _ in chunk):
            group = [(ctx, ep) for ctx, ep in chunk if ctx.user_name == user]
            results.extend(ex.extract([ep for _, ep in group], group[0][0]))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    facts = [(ep, f) for ep, r in zip(episodes, results, strict=True) for f in r.facts]
    n_ents = sum(len(r.entities) for r in results)
    print(f"{len(episodes)} messages in {elapsed:.2f}s = {len(episodes) / elapsed:.0f} messages/s "
          f"(batch {args.batch}; {len(episodes) / cpu:.0f} per CPU-second; load average {load:.1f} "
          f"on {os.cpu_count()} cores); {len(facts)} facts, {n_ents} entities")

    rng = random.Random(args.seed)
    for ep, f in rng.sample(facts, min(args.sample, len(facts))):
        dated = f" valid_at={f.valid_at:%Y-%m-%d}" if f.valid_at else ""
        ended = f" ENDS invalid_at={f.invalid_at:%Y-%m-%d}" if f.ends and f.invalid_at else ""
        print(f"\n[{ep.name} @ {ep.reference_time:%Y-%m-%d}] {ep.content}\n"
              f"  -> {f.source} -[{f.relation}]-> {f.target} ({f.target_type}){dated}{ended}\n     {f.fact}")


if __name__ == "__main__":
    main()
