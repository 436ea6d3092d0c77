"""Tables (plain text and Markdown), the machine description, and the plots."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .metrics import BUDGETS, KS

__all__ = ["category_table", "machine", "markdown_report", "plot_coverage", "plot_scale", "quality_table",
           "scale_table"]

METRICS = [f"recall@{k}" for k in KS] + [f"coverage@{b}" for b in BUDGETS]


def machine() -> dict[str, Any]:
    """CPU model and cores (from /proc/cpuinfo), memory, Python."""
    cpu, mem_gb = platform.processor() or "unknown", None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": cores, "memory_gb": mem_gb, "python": platform.python_version(),
            "platform": platform.platform()}


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*header), fmt.format(*["-" * w for w in widths])] + [fmt.format(*r) for r in rows])


def _f(x: Any, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if isinstance(x, (int, float)) else "-"


def quality_table(summary: dict[str, Any], markdown: bool = False) -> str:
    """Methods x (recall@K, coverage@B, tokens@1000, n) on the headline categories."""
    header = ["method", *[m.replace("recall", "R").replace("coverage", "cov") for m in METRICS], "tok@1000", "n"]
    rows = []
    for name, vals in summary["methods"].items():
        rows.append([name, *[_f(vals.get(m)) for m in METRICS], _f(vals.get("tokens@1000"), 0), str(vals.get("n"))])
    return _table(header, rows, markdown)


def category_table(summary: dict[str, Any], metric: str = "coverage@1000", markdown: bool = False) -> str:
    """Categories x methods for one metric."""
    cats = summary["by_category"]
    methods = list(summary["methods"])
    header = ["category", *methods, "n"]
    rows = []
    for cat, per in cats.items():
        n = next(iter(per.values()))["n"]
        rows.append([cat, *[_f(per.get(m, {}).get(metric)) for m in methods], str(n)])
    return _table(header, rows, markdown)


def scale_table(results: Sequence[dict[str, Any]], markdown: bool = False) -> str:
    header = ["users", "episodes/user", "ingest msg/s", "ctx p50 ms", "ctx p95 ms", "peak RSS MB",
              "disk MB", "disk MB/10k ep"]
    rows = [[str(r["users"]), f"{r['episodes_per_user']:,}", _f(r["ingest_messages_per_s"], 1),
             _f(r["get_user_context_ms"]["p50"], 1), _f(r["get_user_context_ms"]["p95"], 1),
             _f(r["peak_rss_mb"], 0), _f(r["disk_mb"], 1), _f(r["disk_mb_per_10k_episodes"], 1)] for r in results]
    return _table(header, rows, markdown)


def markdown_report(out: dict[str, Any]) -> str:
    """Every table of a run (the ``--out`` JSON) in Markdown: what docs/BENCHMARKS.md quotes."""
    m = out.get("machine", {})
    parts = [f"Command: `{out.get('command', '')}`; machine: {m.get('cpu')}, {m.get('cores')} cores, "
             f"{m.get('memory_gb')} GB, Python {m.get('python')}; wall time {out.get('wall_seconds')} s."]
    for name in ("locomo", "longmemeval"):
        summary = out.get(name)
        if not summary:
            continue
        heading = "categories 1-4, adversarial excluded" if summary.get("headline_categories") != "all" else "all"
        lat = summary["get_user_context_ms"]
        parts += [f"### {name}: {summary['histories']} histories, {summary['questions']} questions ({heading})",
                  quality_table(summary, markdown=True),
                  f"Coverage within 1,000 tokens by {'category' if heading != 'all' else 'question type'}:",
                  category_table(summary, markdown=True),
                  f"agent_memory: {summary['facts_extracted']} facts extracted from {summary['ingest']['messages']} "
                  f"messages ({summary['ingest']['messages_per_s']} msg/s, embeddings shared with the baselines); "
                  f"get_user_context p50 {lat['p50']} ms, p95 {lat['p95']} ms over {lat['n']} calls; "
                  f"blocks over budget: {summary['blocks_over_budget']}."]
    if out.get("scale"):
        parts += ["### Speed and scale", scale_table(out["scale"], markdown=True)]
    return "\n\n".join(parts) + "\n"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, ax: Any, path: Path) -> Path:
    """Grid, legend, tight layout; write the PNG (making its folder) and free the figure."""
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_coverage(name: str, summary: dict[str, Any], path: Path) -> Path:
    """Evidence coverage vs token budget, one line per method."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for method, vals in summary["methods"].items():
        ys = [vals.get(f"coverage@{b}") for b in BUDGETS]
        ax.plot(BUDGETS, ys, marker="o", linewidth=2.5 if method == "agent_memory" else 1.5, label=method)
    ax.set_xscale("log", base=2)
    ax.set_xticks(BUDGETS, [str(b) for b in BUDGETS])
    ax.set_xlabel("token budget of the context block (cl100k)")
    ax.set_ylabel("evidence coverage")
    ax.set_title(f"{name}: evidence coverage vs token budget (n={next(iter(summary['methods'].values()))['n']})")
    return _save(plt, fig, ax, path)


def plot_scale(results: Sequence[dict[str, Any]], path: Path) -> Path:
    """get_user_context latency (p50, p95) vs episodes per user, one user per memory."""
    plt = _plt()
    single = sorted((r for r in results if r["users"] == 1), key=lambda r: r["episodes_per_user"])
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    xs = [r["episodes_per_user"] for r in single]
    ax.plot(xs, [r["get_user_context_ms"]["p50"] for r in single], marker="o", label="p50")
    ax.plot(xs, [r["get_user_context_ms"]["p95"] for r in single], marker="o", label="p95")
    for r in results:
        if r["users"] > 1:
            ax.scatter([r["episodes_per_user"]], [r["get_user_context_ms"]["p95"]], marker="x", color="black",
                       label=f"p95, {r['users']:,} users x {r['episodes_per_user']:,}")
    ax.set_xscale("log")
    ax.set_xlabel("episodes in the user's graph")
    ax.set_ylabel("get_user_context latency (ms)")
    ax.set_title("Read latency vs graph size (embedded default, 2 cores)")
    return _save(plt, fig, ax, path)
