"""One command: how well and how fast memory serves context, next to the baselines, in one run.

    python -m benchmarks.run --quick                # a subset + scale at 1k/10k: < 10 min on 2 cores
    python -m benchmarks.run                        # both dev sets in full + scale at 1k/10k
    python -m benchmarks.run --scale full           # + 100k episodes and 1,000 users
    python -m benchmarks.run --locomo F --longmemeval G --out results.json

Quality needs no LLM: see ``benchmarks/quality.py`` for the protocol and ``docs/BENCHMARKS.md``
for the figures. Memory is measured with its real defaults (MiniLM embedder, offline extractor).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from .data import LOCOMO_CATEGORIES, default_paths, load_locomo, load_longmemeval
from .report import category_table, machine, markdown_report, plot_coverage, plot_scale, quality_table, scale_table

ROOT = Path(__file__).resolve().parents[1]
LOCOMO_HEADLINE = tuple(LOCOMO_CATEGORIES[c] for c in (1, 2, 3, 4))  # as LoCoMo reports: adversarial apart

QUICK = {"locomo_conversations": 1, "longmemeval_per_type": 1, "scale": [1_000, 10_000]}
SCALE = {"none": [], "quick": [1_000, 10_000], "full": [1_000, 10_000, 100_000]}
MANY_USERS = (1_000, 100)  # --scale full: 1,000 users x 100 episodes


def _log(msg: str) -> None:
    print(msg, flush=True)


def _quality(args: argparse.Namespace, out: dict[str, Any]) -> None:
    from agent_memory.embedding.minilm import MiniLMEmbedder

    from .baselines import CachingEmbedder
    from .quality import run_dataset

    # One embedder for every history and baseline; texts seen twice are embedded once.
    embedder = CachingEmbedder(MiniLMEmbedder(), args.embed_cache)
    datasets = []
    if args.locomo and not args.skip_locomo:
        limit = QUICK["locomo_conversations"] if args.quick else None
        datasets.append(("locomo", load_locomo(args.locomo, limit=limit), LOCOMO_HEADLINE))
    if args.longmemeval and not args.skip_longmemeval:
        per_type = QUICK["longmemeval_per_type"] if args.quick else None
        datasets.append(("longmemeval", load_longmemeval(args.longmemeval, per_type=per_type), None))
    for name, histories, headline in datasets:
        t0 = time.perf_counter()
        n_q = sum(len(h.questions) for h in histories)
        _log(f"\n== {name}: {len(histories)} histories, {n_q} questions ==")
        result = run_dataset(name, histories, embedder=embedder, headline=headline, log=_log)
        summary = result.summary()
        summary["wall_seconds"] = round(time.perf_counter() - t0, 1)
        out[name] = summary
        embedder.save()
        heading = "categories 1-4 (adversarial excluded)" if headline else "all questions"
        _log(f"\n{name} ({heading}, {summary['questions']} questions in all, {summary['wall_seconds']} s):")
        _log(quality_table(summary))
        _log(f"\n{name}: coverage@1000 by {'category' if headline else 'question type'}:")
        _log(category_table(summary))
        _log(f"memory: {summary['ingest']['messages']} messages ingested at {summary['ingest']['messages_per_s']} msg/s"
             f" (embeddings cached across methods), {summary['facts_extracted']} facts; get_user_context "
             f"p50 {summary['get_user_context_ms']['p50']} ms, p95 {summary['get_user_context_ms']['p95']} ms; "
             f"blocks over budget: {summary['blocks_over_budget']}")
        if args.plots:
            path = plot_coverage(name, summary, args.figures / f"coverage_{name}.png")
            _log(f"plot: {path}")


def _scale(args: argparse.Namespace, out: dict[str, Any]) -> None:
    from .scale import run_in_subprocess

    sizes = QUICK["scale"] if args.quick and args.scale == "quick" else SCALE[args.scale]
    results = []
    for n in sizes:
        _log(f"\n== scale: 1 user x {n:,} episodes ==")
        results.append(run_in_subprocess(n, 1, args.queries, log=_log))
    if args.scale == "full":
        users, per = MANY_USERS
        _log(f"\n== scale: {users:,} users x {per:,} episodes ==")
        results.append(run_in_subprocess(per, users, args.queries, log=_log))
    if results:
        out["scale"] = results
        _log("\nscale (embedded default: SQLite + Chroma + MiniLM + offline extractor; peak RSS via getrusage):")
        _log(scale_table(results))
        if args.plots and any(r["users"] == 1 for r in results):
            _log(f"plot: {plot_scale(results, args.figures / 'latency_vs_size.png')}")


def main(argv: list[str] | None = None) -> int:
    paths = default_paths(ROOT)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="1 LoCoMo conversation, 1 LongMemEval question per type, scale at 1k and 10k")
    parser.add_argument("--locomo", type=Path, default=paths["locomo"], help="a LoCoMo-format file")
    parser.add_argument("--longmemeval", type=Path, default=paths["longmemeval"], help="a LongMemEval-format file")
    parser.add_argument("--skip-locomo", action="store_true")
    parser.add_argument("--skip-longmemeval", action="store_true")
    parser.add_argument("--scale", choices=sorted(SCALE), default="quick",
                        help="none; quick = 1k and 10k episodes; full = also 100k episodes and 1,000 users")
    parser.add_argument("--queries", type=int, default=200, help="timed get_user_context calls per scale point")
    parser.add_argument("--out", type=Path, help="write every figure as JSON here")
    parser.add_argument("--markdown", type=Path, help="write the tables as Markdown here (as in docs/BENCHMARKS.md)")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "benchmarks", help="where PNGs go")
    parser.add_argument("--no-plots", dest="plots", action="store_false")
    parser.add_argument("--embed-cache", type=Path,
                        help="memoise embeddings in this .npz across runs (same vectors; saves time)")
    args = parser.parse_args(argv)
    for name in ("locomo", "longmemeval"):
        path = getattr(args, name)
        if path is not None and not path.exists():
            if path != paths[name]:
                parser.error(f"--{name}: {path} does not exist")
            _log(f"(no {name} data at {path}: skipped)")
            setattr(args, name, None)

    started = time.perf_counter()
    command = " ".join(["python -m benchmarks.run", *(argv or sys.argv[1:])])
    out: dict[str, Any] = {"machine": machine(), "command": command}
    _log(f"machine: {out['machine']['cpu']}, {out['machine']['cores']} cores, {out['machine']['memory_gb']} GB")
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    _quality(args, out)
    _scale(args, out)
    out["latency"] = {
        **{f"{name}_get_user_context_ms": out[name]["get_user_context_ms"] for name in ("locomo", "longmemeval")
           if name in out},
        **{f"scale_{r['users']}x{r['episodes_per_user']}": {**r["get_user_context_ms"],
                                                           "ingest_messages_per_s": r["ingest_messages_per_s"]}
           for r in out.get("scale", [])},
    }
    out["wall_seconds"] = round(time.perf_counter() - started, 1)
    _log(f"\ntotal wall time: {out['wall_seconds']} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2))
        _log(f"figures written to {args.out}")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown_report(out))
        _log(f"tables written to {args.markdown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
