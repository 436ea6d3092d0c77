"""Render the context block from ranked parts, a template and a token budget (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..models import Entity, Episode, Fact, Observation
from .templates import Placeholder, parse_template
from .tokens import count_tokens

__all__ = ["ContextParts", "Rendered", "escape", "render_context", "fact_line", "episode_line"]


def escape(text: str) -> str:
    """Stored text can never open or close a tag of the block, nor inject a placeholder."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("%{", "%\u200b{")


def _day(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d") if ts else "unknown"


def fact_line(fact: Fact) -> str:
    """``- <fact> (valid_from - present|until)``: closed facts carry their date range."""
    end = "present" if fact.invalid_at is None else _day(fact.invalid_at)
    return f"- {escape(fact.fact)} ({_day(fact.valid_at)} - {end})"


def entity_line(entity: Entity) -> str:
    summary = f": {escape(entity.summary)}" if entity.summary else ""
    return f"- {escape(entity.name)} ({escape(entity.type)}){summary}"


def episode_line(episode: Episode, max_chars: int = 1200) -> str:
    who = f"{escape(episode.name)}: " if episode.name else (f"{episode.role.value}: " if episode.role else "")
    text = episode.content if len(episode.content) <= max_chars else episode.content[:max_chars] + "..."
    return f"- [{episode.reference_time.strftime('%Y-%m-%d %H:%M')}] {who}{escape(text)}"


def observation_line(obs: Observation) -> str:
    return f"- {escape(obs.text)}"


@dataclass
class ContextParts:
    """Ranked candidates for each section, best first."""

    user_summary: str | None = None
    facts: list[Fact] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)


@dataclass
class Rendered:
    """The block and exactly the records that made it in."""

    text: str
    tokens: int
    facts: list[Fact]
    entities: list[Entity]
    episodes: list[Episode]
    observations: list[Observation]
    user_summary: str | None


def _pick(ph: Placeholder, items: Sequence[object], kind: str) -> list[object]:
    chosen = list(items)
    if ph.types:
        wanted = {t.lower() for t in ph.types}
        if kind == "facts":
            chosen = [f for f in chosen if f.relation.lower() in wanted]  # type: ignore[attr-defined]
        elif kind == "entities":
            chosen = [e for e in chosen if e.type.lower() in wanted]  # type: ignore[attr-defined]
        elif kind == "episodes":
            chosen = [e for e in chosen if e.source.value in wanted]  # type: ignore[attr-defined]
    if ph.valid_only and kind == "facts":
        chosen = [f for f in chosen if f.invalid_at is None]  # type: ignore[attr-defined]
    if kind == "facts":  # current facts first, closed ones after with their range
        chosen.sort(key=lambda f: f.invalid_at is not None)  # type: ignore[attr-defined]
    return chosen[: ph.limit] if ph.limit else chosen


_LINES: dict[str, tuple[str, Callable[[object], str]]] = {
    "edges": ("facts", fact_line),  # type: ignore[dict-item]
    "entities": ("entities", entity_line),  # type: ignore[dict-item]
    "episodes": ("episodes", episode_line),  # type: ignore[dict-item]
    "observations": ("observations", observation_line),  # type: ignore[dict-item]
}


def render_context(template: str, parts: ContextParts, token_budget: int) -> Rendered:
    """Fill each placeholder in template order with as many items as the remaining budget allows."""
    placeholders = parse_template(template)
    static = template
    for ph in reversed(placeholders):
        static = static[: ph.start] + static[ph.end :]
    used = count_tokens(static)
    fills: list[str] = []
    kept: dict[str, list[object]] = {"facts": [], "entities": [], "episodes": [], "observations": []}
    summary_used: str | None = None
    for ph in placeholders:
        if ph.name == "user_summary":
            text = escape(parts.user_summary or "")
            cost = count_tokens(text)
            if text and used + cost <= token_budget:
                used += cost
                summary_used = parts.user_summary
                fills.append(text)
            else:
                fills.append("")
            continue
        kind, line = _LINES[ph.name]
        lines: list[str] = []
        for item in _pick(ph, getattr(parts, kind), kind):
            if item in kept[kind]:
                continue
            text = line(item)
            cost = count_tokens(text) + 1
            if used + cost > token_budget:
                continue  # a shorter item further down may still fit
            used += cost
            lines.append(text)
            kept[kind].append(item)
        if kind == "episodes":  # chosen by relevance, shown in time order
            order = sorted(range(len(lines)), key=lambda i: kept[kind][-len(lines) + i].reference_time)  # type: ignore[attr-defined]
            lines = [lines[i] for i in order]
        fills.append("\n".join(lines))
    out, pos = [], 0
    for ph, fill in zip(placeholders, fills):
        out.append(template[pos : ph.start])
        out.append(fill)
        pos = ph.end
    out.append(template[pos:])
    text = "".join(out)
    return Rendered(text, count_tokens(text), kept["facts"], kept["entities"], kept["episodes"],  # type: ignore[arg-type]
                    kept["observations"], summary_used)  # type: ignore[arg-type]
