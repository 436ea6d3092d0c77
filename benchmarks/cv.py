"""Honest, cheap tuning: each dev history is ingested once into a cached home, then retrieval knobs
are swept on the query side only and chosen by leave-one-conversation-out cross-validation.

    python -m benchmarks.cv                                   # the defaults, fold by fold
    python -m benchmarks.cv --sweep speaker_boost=0,0.35,0.7 --sweep date_boost=0,0.6
    python -m benchmarks.cv --sweep length_alpha=0,0.5 --longmemeval   # + LongMemEval per setting

Ingestion does not depend on any retrieval knob, so ``--cache`` (default ``../cache-quality``) keeps
one home per data set (SQLite + Chroma, one user per history) and the message -> turn map; a
history is ingested the first time it is asked for and reused afterwards. Knobs are the fields of
``agent_memory.retrieval.search.Knobs`` and ``share_<section>`` (the renderer's ``SHARES``).

For every setting (the product of the ``--sweep`` values) each LoCoMo conversation is scored as
``benchmarks.quality`` scores it (coverage through provenance, categories 1-4). Fold i then picks
the setting with the best mean over the other four conversations and reports its figure on
conversation i: the mean over folds and the worst fold estimate what the tuning is worth on a
conversation it never saw. LongMemEval is read with ``context.get(user_id, question)`` (the
question is not written into the cached graph) at the question's date, which is what
``get_user_context`` reads for a thread holding only the question.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent_memory import Memory
from agent_memory.context import render
from agent_memory.retrieval.search import Knobs

from .cached_reads import exact_query_vectors, exact_vectors, memoise_reads, prepare_reads
from .data import History, Question, default_paths, load_locomo, load_longmemeval
from .metrics import Scores
from .quality import DatasetResult, ingest_history, score_memory

__all__ = ["CachedSet", "cross_validate", "exact_query_vectors", "exact_vectors", "main", "memoise_reads",
           "prepare_reads", "settings_grid"]

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = ("multi-hop", "temporal", "open-domain", "single-hop")
BUDGETS = (500, 1000, 2000, 4000)


def _log(msg: str) -> None:
    print(msg, flush=True)


class CachedSet:
    """One data set's histories ingested once into ``home`` (one user each); reopened on later runs."""

    def __init__(self, home: Path, histories: list[History], embedder: Any, log: Callable[[str], None] = _log):
        self.home, self.histories = home, histories
        home.mkdir(parents=True, exist_ok=True)
        self.meta_path = home / "histories.json"
        self.maps: dict[str, dict[str, str]] = (json.loads(self.meta_path.read_text())
                                                 if self.meta_path.exists() else {})
        self.memory = Memory(home, embedder=embedder, llm=None)
        self.ingest(log)

    def ingest(self, log: Callable[[str], None]) -> None:
        """Ingest the histories not in the cache yet (a history cut short is ingested again)."""
        for i, h in enumerate(self.histories, 1):
            if h.hid in self.maps:
                continue
            user_id = f"u-{h.hid}"
            try:  # a history cut short by an earlier run is ingested again from scratch
                self.memory.user.delete(user_id)
            except Exception:  # noqa: BLE001 - the user did not exist
                pass
            t0 = time.process_time()
            self.maps[h.hid] = ingest_history(self.memory, h, user_id)
            self.meta_path.write_text(json.dumps(self.maps))
            log(f"  cached {h.hid} ({i}/{len(self.histories)}): {len(h.turns)} turns, "
                f"{time.process_time() - t0:.0f} CPU-s")

    def close(self) -> None:
        self.memory.close()


@contextmanager
def applied(memory: Memory, setting: dict[str, float]) -> Iterator[None]:
    """Retrieval and render knobs set for the duration; candidates memoised per query (budgets share them)."""
    core = memory._core
    retriever = core.retriever
    old_knobs, old_shares = retriever.knobs, dict(render.SHARES)
    knob_args = {k: type(getattr(old_knobs, k))(v) for k, v in setting.items() if not k.startswith("share_")}
    retriever.knobs = replace(old_knobs, **knob_args)  # type: ignore[arg-type]
    for k, v in setting.items():
        if k.startswith("share_"):
            render.SHARES[k[len("share_"):]] = v
    original = retriever.candidates
    memo: dict[Any, Any] = {}

    def candidates(user_id: str, query: str, **kw: Any) -> Any:
        key = (user_id, query, tuple(sorted((k, str(v)) for k, v in kw.items())))
        if key not in memo:
            memo[key] = original(user_id, query, **kw)
        return memo[key]

    retriever.candidates = candidates  # type: ignore[method-assign]
    try:
        yield
    finally:
        retriever.candidates = original  # type: ignore[method-assign]
        retriever.knobs = old_knobs
        render.SHARES.clear()
        render.SHARES.update(old_shares)


def score_history(cached: CachedSet, history: History, setting: dict[str, float],
                  categories: tuple[str, ...] | None) -> Scores:
    """One history's per-question scores under one setting (questions of ``categories`` only)."""
    kept = [q for q in history.questions if categories is None or q.category in categories]
    result = DatasetResult(name=history.hid)
    # every history starts cold: what the retriever keeps between reads (the speakers heard) expires a
    # minute after it was written, so a warm start would depend on how fast the previous settings ran
    cached.memory._core.retriever.forget(f"u-{history.hid}")
    with applied(cached.memory, setting):
        if len(history.questions) == 1:  # LongMemEval: read without writing the question (see module doc)
            _score_single(cached, history.hid, kept, result)
        else:
            score_memory(cached.memory, f"u-{history.hid}", cached.maps[history.hid],
                         replace(history, questions=kept), result, budgets=BUDGETS)
    return result.scores["agent_memory"]


def _score_single(cached: CachedSet, hid: str, questions: list[Question], result: DatasetResult) -> None:
    """A one-question history, read like ``context.get`` at the question's date (the cached graph is not written)."""
    from .metrics import coverage, recall_at_k
    from .quality import METHOD, _covered

    memory, by_uuid, user_id = cached.memory, cached.maps[hid], f"u-{hid}"
    scores = result.scores.setdefault(METHOD, Scores())
    for q in questions:
        hits = memory.graph.search(user_id=user_id, query=q.text, scope="episodes", limit=20)
        ranked = [by_uuid.get(h.episode.uuid) for h in hits if h.episode is not None]
        vals = {f"recall@{k}": recall_at_k(ranked, q.evidence, k) for k in (5, 10, 20)}
        for b in BUDGETS:
            ctx = memory._core.build_context(user_id, q.text, token_budget=b, now=q.date)
            vals[f"coverage@{b}"] = coverage(_covered(ctx, by_uuid), q.evidence)
            vals[f"tokens@{b}"] = ctx.token_count
        scores.add(q.category, vals)


def settings_grid(sweeps: list[str], one_at_a_time: bool = False) -> list[dict[str, float]]:
    """``name=v1,v2`` strings -> every combination (the first setting holds each knob's first value);
    ``one_at_a_time``: the defaults, then each value of each knob alone (an ablation)."""
    axes: list[tuple[str, list[float]]] = []
    valid = set(Knobs.names()) | {f"share_{k}" for k in render.SHARES}
    for s in sweeps:
        name, _, values = s.partition("=")
        if name not in valid:
            raise SystemExit(f"unknown knob {name!r}; known: {', '.join(sorted(valid))}")
        axes.append((name, [float(v) for v in values.split(",")]))
    if not axes:
        return [{}]
    if one_at_a_time:
        return [{}] + [{name: v} for name, values in axes for v in values]
    return [dict(zip([a for a, _ in axes], combo)) for combo in itertools.product(*[v for _, v in axes])]


def _label(setting: dict[str, float]) -> str:
    return " ".join(f"{k}={v:g}" for k, v in setting.items()) or "defaults"


def _pooled(parts: list[Scores], metric: str) -> float:
    rows = Scores()
    for p in parts:
        rows._rows.extend(p._rows)
    return rows.overall()[metric] if len(rows) else float("nan")


def cross_validate(table: dict[int, dict[str, Scores]], settings: list[dict[str, float]], hids: list[str],
                   metric: str, log: Callable[[str], None] = _log) -> dict[str, Any]:
    """Leave one history out: pick the best setting on the rest, score it on the one left out."""
    folds: list[dict[str, Any]] = []
    tests: list[float] = []
    firsts: list[float] = []
    for held in hids:
        train = [h for h in hids if h != held]
        best = max(range(len(settings)), key=lambda s: (_pooled([table[s][h] for h in train], metric), -s))
        test = table[best][held].overall()[metric]
        first = table[0][held].overall()[metric]
        tests.append(test)
        firsts.append(first)
        train_score = _pooled([table[best][h] for h in train], metric)
        folds.append({"held_out": held, "chosen": _label(settings[best]), "test": test, "first_setting": first,
                      "train": train_score})
        log(f"  fold {held}: chose [{_label(settings[best])}] (train {train_score:.3f}) "
            f"-> held-out {test:.3f} (first setting {first:.3f})")
    out = {"metric": metric, "folds": folds, "mean": statistics.fmean(tests), "worst": min(tests),
           "first_setting_mean": statistics.fmean(firsts)}
    log(f"  cross-validated {metric}: mean {out['mean']:.3f}, worst fold {out['worst']:.3f} "
        f"(first setting: mean {out['first_setting_mean']:.3f})")
    return out


def _row(name: str, s: Scores) -> str:
    o = s.overall()
    return (f"{name:<34} " + " ".join(f"{o.get(f'coverage@{b}', float('nan')):.3f}" for b in BUDGETS)
            + f"  R@10 {o.get('recall@10', float('nan')):.3f}  n={o['n']}")


def _baselines(histories: list[History], embedder: Any, out: dict[str, Any], by_category: bool) -> None:
    """The turn baselines of ``benchmarks.run`` on the same histories (same embedder, same metric)."""
    from .baselines import BASELINES
    from .quality import score_baselines

    result = DatasetResult(name="longmemeval")
    for h in histories:
        score_baselines(h, result, embedder)
    for name in BASELINES:
        out[name] = {"overall": result.scores[name].overall(), "by_type": result.scores[name].by_category()}
        _log(_row(f"longmemeval [{name}]", result.scores[name]))
        if by_category:
            _log("    " + "  ".join(f"{c} {v['coverage@1000']:.3f}"
                                    for c, v in result.scores[name].by_category().items()))


def _embedder(args: argparse.Namespace) -> Any:
    """The embedder a run asks for (a cache holds one embedder's vectors: give each its own --cache)."""
    if args.embedder == "e5":
        from agent_memory.embedding.e5 import E5Embedder

        return E5Embedder()
    from agent_memory.embedding.minilm import MiniLMEmbedder

    return MiniLMEmbedder(quantized=not args.fp32)


def main(argv: list[str] | None = None) -> int:
    paths = default_paths(ROOT)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cv", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=ROOT.parent / "cache-quality")
    parser.add_argument("--locomo", type=Path, default=paths["locomo"])
    parser.add_argument("--longmemeval", nargs="?", type=Path, const=paths["longmemeval"], default=None,
                        help="also score LongMemEval (all questions) for every setting")
    parser.add_argument("--longmemeval-per-type", type=int, default=None, help="first N questions of each type")
    parser.add_argument("--skip-locomo", action="store_true")
    parser.add_argument("--cached-only", action="store_true",
                        help="LongMemEval: score only the histories already in the cache (ingest nothing)")
    parser.add_argument("--sweep", action="append", default=[], help="knob=v1,v2,... (repeatable; product)")
    parser.add_argument("--one-at-a-time", action="store_true",
                        help="the defaults, then each swept value alone instead of every combination")
    parser.add_argument("--metric", default="coverage@1000", help="what a fold maximises")
    parser.add_argument("--by-category", action="store_true", help="print coverage@1000 per category")
    parser.add_argument("--out", type=Path, help="write every figure as JSON here")
    parser.add_argument("--baselines", action="store_true",
                        help="LongMemEval: also score BM25, dense and RRF on the same histories")
    parser.add_argument("--fp32", action="store_true",
                        help="embed with the shipped fp32 graph (caches built before the quantized default)")
    parser.add_argument("--exact-vectors", action="store_true",
                        help="exact vector search instead of Chroma's HNSW (repeatable; see cached_reads)")
    parser.add_argument("--sentence-vectors", choices=("max", "mix", "mean"), default=None,
                        help="the episode vector score from its sentences too (an experiment: benchmarks.sentences)")
    parser.add_argument("--embedder", choices=("minilm", "e5"), default="minilm",
                        help="the memory's embedder (e5: the optional multilingual-e5-small; its own cache dir)")
    args = parser.parse_args(argv)
    settings = settings_grid(args.sweep, args.one_at_a_time)

    from .baselines import CachingEmbedder

    embedder = CachingEmbedder(_embedder(args), args.cache / "embeddings.npz")
    out: dict[str, Any] = {"settings": settings}
    cpu0 = time.process_time()
    if not args.skip_locomo:
        locomo = load_locomo(args.locomo)
        cached = CachedSet(args.cache / "locomo", locomo, embedder)
        embedder.save()
        prepare_reads(cached.memory, exact=args.exact_vectors, sentence_vectors=args.sentence_vectors)
        hids = [h.hid for h in locomo]
        table: dict[int, dict[str, Scores]] = {}
        for si, setting in enumerate(settings):
            table[si] = {h.hid: score_history(cached, h, setting, HEADLINE) for h in locomo}
            pooled = Scores()
            for s in table[si].values():
                pooled._rows.extend(s._rows)
            _log(_row(f"locomo [{_label(setting)}]", pooled)
                 + "  per conv " + " ".join(f"{table[si][h].overall()[args.metric]:.3f}" for h in hids))
            if args.by_category:
                _log("    " + "  ".join(f"{c} {v['coverage@1000']:.3f}" for c, v in pooled.by_category().items()))
        cached.close()
        _log(f"\nleave-one-conversation-out over {len(hids)} LoCoMo conversations, {len(settings)} settings:")
        out["locomo_cv"] = cross_validate(table, settings, hids, args.metric)
        out["locomo"] = {_label(s): {h: table[i][h].overall() for h in hids} for i, s in enumerate(settings)}

    if args.longmemeval:
        lme = load_longmemeval(args.longmemeval, per_type=args.longmemeval_per_type)
        meta = args.cache / "longmemeval" / "histories.json"
        if args.cached_only and meta.exists():
            done = json.loads(meta.read_text())
            lme = [h for h in lme if h.hid in done]
        # its own file: a LongMemEval run and a LoCoMo sweep may overlap
        embedder = CachingEmbedder(_embedder(args), args.cache / "embeddings_lme.npz")
        cached_l = CachedSet(args.cache / "longmemeval", lme, embedder)
        embedder.save()
        prepare_reads(cached_l.memory, exact=args.exact_vectors, sentence_vectors=args.sentence_vectors)
        out["longmemeval"] = {}
        for setting in settings:
            pooled = Scores()
            for h in lme:
                pooled._rows.extend(score_history(cached_l, h, setting, None)._rows)
            out["longmemeval"][_label(setting)] = {"overall": pooled.overall(), "by_type": pooled.by_category()}
            _log(_row(f"longmemeval [{_label(setting)}]", pooled))
            if args.by_category:
                _log("    " + "  ".join(f"{c} {v['coverage@1000']:.3f}" for c, v in pooled.by_category().items()))
        if args.baselines:
            _baselines(lme, embedder, out["longmemeval"], args.by_category)
        embedder.save()
        cached_l.close()
    _log(f"\n{time.process_time() - cpu0:.0f} CPU-s (this process)")
    if args.out:
        args.out.write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
