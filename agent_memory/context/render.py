"""Render the context block from ranked parts, a template and a token budget (pure, no I/O).

Items are chosen best first while they fit the budget (one that does not fit is skipped: a
shorter one further down may still fit). The summary, facts, entities and observations may each
take at most a share of the budget (``SHARES``) when the template has episodes, so that a small
budget still carries what was said about the question: the summary is then cut at a sentence.
Episodes are chosen by relevance but shown in time order, under one date line per day instead of a
timestamp on every line: a date costs ~12 tokens, about a third of a typical chat message, so the
budget carries more of what was said.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from ..models import Entity, Episode, Fact, Observation
from .lines import (
    LineTokens,
    day_line,
    day_text,
    entity_line,
    episode_body,
    episode_lines,
    fact_line,
    observation_line,
    one_line,
)
from .templates import Placeholder, parse_template
from .tokens import count_lines, count_tokens, min_tokens

__all__ = ["SHARES", "ContextParts", "Rendered", "render_context"]


@dataclass
class ContextParts:
    """Ranked candidates for each section, best first."""

    user_summary: str | None = None
    facts: list[Fact] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    # conversation order of episodes that share a timestamp (messages sent in one call without
    # dates): uuid -> position; episodes are shown by time, then by this
    episode_order: dict[str, int] = field(default_factory=dict)


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
    "episodes": ("episodes", episode_body),  # type: ignore[dict-item]
    "observations": ("observations", observation_line),  # type: ignore[dict-item]
}


# The most of the token budget each section but the episodes may take (the episodes may take all).
SHARES = {"user_summary": 0.15, "facts": 0.15, "entities": 0.1, "observations": 0.1}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _cut_summary(text: str, limit: int) -> str:
    """The longest run of whole sentences of ``text`` that costs at most ``limit`` tokens."""
    if count_tokens(text) <= limit:
        return text
    kept = ""
    for sentence in _SENTENCE_END.split(text):
        longer = f"{kept} {sentence}" if kept else sentence
        if count_tokens(longer) > limit:
            break
        kept = longer
    return kept


# Text averages about 4 characters a cl100k token; a line longer than 8 characters per token of the
# remaining budget is skipped without counting (only pathological text packs more per token).
_MAX_CHARS_PER_TOKEN = 8


def _key(item: object) -> str:
    return getattr(item, "uuid", None) or str(id(item))


def _episode_fill(episodes: Sequence[Episode], lines: Sequence[str], position: dict[str, int]) -> str:
    """Episodes in time order (conversation order within one timestamp), a date line before each new day."""
    order = sorted(range(len(episodes)),
                   key=lambda i: (episodes[i].reference_time, position.get(episodes[i].uuid, 0)))
    out: list[str] = []
    day = None
    for i in order:
        d = episodes[i].reference_time.date()
        if d != day:
            out.append(day_line(episodes[i].reference_time))
            day = d
        out.append(lines[i])
    return "\n".join(out)


@dataclass
class _Slot:
    """What one placeholder holds: its items and their lines, in the order they were chosen."""

    ph: Placeholder
    kind: str
    items: list[object] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    position: dict[str, int] = field(default_factory=dict)

    def fill(self) -> str:
        if self.kind == "episodes":
            return _episode_fill(self.items, self.lines, self.position)  # type: ignore[arg-type]
        return "\n".join(self.lines)


def _assemble(template: str, placeholders: list[Placeholder], fills: list[str]) -> str:
    out, pos = [], 0
    for ph, fill in zip(placeholders, fills):
        out.append(template[pos : ph.start])
        out.append(fill)
        pos = ph.end
    out.append(template[pos:])
    return "".join(out)


def render_context(template: str, parts: ContextParts, token_budget: int) -> Rendered:
    """Fill each placeholder in template order with as many items as the remaining budget allows.

    When the budget cannot hold every candidate episode, a current fact drawn only from episodes
    the block shows says nothing they do not: it is left out and its tokens go to the next fact or
    episode (closed facts stay: they date a change).
    """
    memo: dict[tuple[str, str], str] = {}  # each candidate's line, made once for both passes
    episode_lines(parts.episodes, memo)
    tokens = LineTokens(list(memo.values()))
    try:
        first = _render(template, parts, token_budget, memo, tokens)
        if not first.facts or len(first.episodes) == len(parts.episodes):
            return first
        shown = {e.uuid for e in first.episodes}
        kept = [f for f in parts.facts if not _said(f, shown)]
        if len(kept) == len(parts.facts):
            return first
        second = _render(template, replace(parts, facts=kept), token_budget, memo, tokens)
        # more room usually adds episodes; if it ever dropped one that a left-out fact stood for, keep the first
        return second if shown <= {e.uuid for e in second.episodes} else first
    finally:
        tokens.keep()


def _said(fact: Fact, shown: set[str]) -> bool:
    return fact.invalid_at is None and bool(fact.episodes) and set(fact.episodes) <= shown


def _render(template: str, parts: ContextParts, token_budget: int, memo: dict[tuple[str, str], str],
            tokens: Callable[[str], int]) -> Rendered:
    """One pass of ``render_context``; ``memo`` keeps each candidate's line for the next pass, ``tokens``
    counts a line's tokens (kept between renders)."""
    placeholders = parse_template(template)
    static = template
    for ph in reversed(placeholders):
        static = static[: ph.start] + static[ph.end :]
    used = count_tokens(static)
    slots: list[_Slot | str] = []
    seen: dict[str, set[str]] = {"facts": set(), "entities": set(), "episodes": set(), "observations": set()}
    summary_used: str | None = None
    # the shares keep room for the episodes: a template without them lets every section fill up
    shares = SHARES if any(ph.name == "episodes" for ph in placeholders) else {}
    for ph in placeholders:
        if ph.name == "user_summary":
            summary = _cut_summary(parts.user_summary or "", int(shares.get("user_summary", 1.0) * token_budget))
            text = one_line(summary)
            cost = count_tokens(text)
            if text and used + cost <= token_budget:
                used += cost
                summary_used = summary
                slots.append(text)
            else:
                slots.append("")
            continue
        kind, line = _LINES[ph.name]
        slot = _Slot(ph, kind, position=parts.episode_order)
        days: set[date] = set()
        share = shares.get(kind)
        section_budget = token_budget if share is None else min(token_budget, used + int(share * token_budget))
        for item in _pick(ph, getattr(parts, kind), kind):
            key = _key(item)
            if key in seen[kind]:
                continue
            text = memo.get((kind, key), "")  # a line is never empty: it starts with "- "
            if not text:
                text = memo[(kind, key)] = line(item)
            room = section_budget - used
            if len(text) > _MAX_CHARS_PER_TOKEN * room or min_tokens(text) >= room:
                continue  # cannot fit: skip it without paying for an exact count
            cost = tokens(text) + 1
            day = None
            if kind == "episodes":
                day = item.reference_time.date()  # type: ignore[attr-defined]
                if day not in days:
                    cost += tokens(day_text(day)) + 1
            if used + cost > section_budget:
                continue
            used += cost
            seen[kind].add(key)
            if day is not None:
                days.add(day)
            slot.items.append(item)
            slot.lines.append(text)
        slots.append(slot)
    while True:  # joining lines can merge tokens differently from counting them apart: check the whole
        fills = [s if isinstance(s, str) else s.fill() for s in slots]
        text = _assemble(template, placeholders, fills)
        total = count_lines(text, tokens)
        if total <= token_budget:
            break
        fullest = [s for s in slots if isinstance(s, _Slot) and s.items]
        if not fullest:
            break
        fullest[-1].items.pop()  # the last item chosen for the last section: the least relevant
        fullest[-1].lines.pop()
    kept: dict[str, list[Any]] = {"facts": [], "entities": [], "episodes": [], "observations": []}
    for s in slots:
        if isinstance(s, _Slot):
            kept[s.kind] += s.items
    return Rendered(text, total, kept["facts"], kept["entities"], kept["episodes"],
                    kept["observations"], summary_used)
