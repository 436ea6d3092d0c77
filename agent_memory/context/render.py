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

import functools
import re
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, TypeVar

from .._expiring import Expiring
from ..models import Entity, Episode, Fact, Observation
from .templates import Placeholder, parse_template
from .tokens import count_lines, count_tokens, min_tokens

__all__ = [
    "ContextParts",
    "Rendered",
    "day_line",
    "episode_body",
    "episode_line",
    "escape",
    "fact_line",
    "forget_lines",
    "one_line",
    "render_context",
]


# line breaks of every kind (what str.splitlines splits on) and the other control characters but tab
_BREAKS = re.compile(r"[ \t]*(?:[\r\n\v\f\x1c-\x1e\x85\u2028\u2029][ \t]*)+|[\x00-\x08\x0e-\x1b\x1f\x7f]")


# what escape may change: a break or control character (tab aside), & < > or "%" (of "%{"); one
# character class, which the regex engine scans far faster than an alternation
_SPECIAL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029&<>%]")


def escape(text: str) -> str:
    """Stored text as part of one line of the block: it can never open or close a tag, inject a
    placeholder, or start a line of its own (line breaks fold to a space), so it cannot forge a header,
    a date line or another item."""
    if not _SPECIAL.search(text):  # most text needs none of it: one scan instead of five
        return text
    text = _BREAKS.sub(" ", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("%{", "%\u200b{")


def one_line(text: str) -> str:
    """Stored text standing alone on a line (the summary): escaped, and a leading ``#`` cannot make it a
    Markdown heading."""
    text = escape(text).strip()
    return "\\" + text if text.startswith("#") else text


def _day(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d") if ts else "unknown"


# A relation naming a past act is an event ("VISITED", "WENT_TO", "PAYMENT_FAILED"): it happened on a
# day. Anything else is a state that lasts ("LIVES_IN", "LIKES", "MEMBER_OF"): it holds over a range.
_PAST_IRREGULAR = frozenset(
    "ATE BEGAN BOUGHT BUILT CAME DID DREW DROVE FELL FLEW FOUND GAVE GOT GREW HELD HEARD KEPT LEFT LOST MADE MET "
    "PAID PUT RAN READ RODE SANG SAT SAW SENT SOLD SPENT SPOKE STARTED STOLE SWAM TAUGHT TOLD TOOK THREW "
    "WENT WON WORE WROTE BROKE CAUGHT CHOSE FORGOT HID HURT LED LENT QUIT RANG ROSE SHOT SHUT SLEPT SPLIT "
    "STOOD STRUCK TORE WOKE".split())
_STATE_PARTICIPLES = frozenset(
    "BASED CALLED EMPLOYED ENGAGED INTERESTED INVOLVED LOCATED MARRIED NAMED RELATED SUBSCRIBED "
    "ALLERGIC ATTACHED ASSOCIATED CONNECTED DEDICATED DIAGNOSED ENROLLED REGISTERED LICENSED".split())


def is_event(relation: str) -> bool:
    """Whether a relation names a one-off act (past tense) rather than a lasting state."""
    words = relation.upper().split("_")
    verb = next((w for w in words if w not in ("PAYMENT", "ORDER", "ACCOUNT", "SUBSCRIPTION", "CARD")), words[0])
    if verb in _STATE_PARTICIPLES:
        return False
    return verb in _PAST_IRREGULAR or (verb.endswith("ED") and not verb.endswith("EED") and len(verb) > 3)


def fact_when(fact: Fact) -> str:
    """``on 2024-03-25`` for an event, ``2024-03-13 - present`` (or its closing day) for a state."""
    if fact.invalid_at is None and fact.valid_at is not None and is_event(fact.relation):
        return f"on {_day(fact.valid_at)}"
    end = "present" if fact.invalid_at is None else _day(fact.invalid_at)
    return f"{_day(fact.valid_at)} - {end}"


def fact_line(fact: Fact) -> str:
    """``- <fact> (on <day>)`` for an event, ``- <fact> (valid_from - present|until)`` for a state."""
    return f"- {escape(fact.fact)} ({fact_when(fact)})"


def entity_line(entity: Entity) -> str:
    summary = f": {escape(entity.summary)}" if entity.summary else ""
    return f"- {escape(entity.name)} ({escape(entity.type)}){summary}"


_EPISODE_CHARS = 1200  # the most of an episode's text a block shows


def episode_body(episode: Episode, max_chars: int = _EPISODE_CHARS) -> str:
    """``- <speaker>: <content>``, long content cut at ``max_chars``; no date (see ``day_line``)."""
    key = _body_key(episode, max_chars)
    return _kept(_bodies, key, lambda: _body(*key))


def _body_key(episode: Episode, max_chars: int) -> tuple[str | None, str | None, str, int]:
    """What an episode's line is made of (and kept under)."""
    return episode.name, episode.role.value if episode.role else None, episode.content, max_chars


def _body(name: str | None, role: str | None, content: str, max_chars: int) -> str:
    who = f"{escape(name)}: " if name else (f"{role}: " if role else "")
    text = content if len(content) <= max_chars else content[:max_chars] + "..."
    return f"- {who}{escape(text)}"


def day_line(ts: datetime) -> str:
    """The line that dates the episodes under it: ``2024-03-02 Sat``."""
    return _day_text(ts.date())


@functools.lru_cache(maxsize=4096)
def _day_text(day: date) -> str:
    return day.strftime("%Y-%m-%d %a")


def episode_line(episode: Episode, max_chars: int = _EPISODE_CHARS) -> str:
    """One episode on its own line with its timestamp: ``- [2024-03-02 10:00] Jane: ...``."""
    body = episode_body(episode, max_chars)
    return f"- [{episode.reference_time.strftime('%Y-%m-%d %H:%M')}] {body[2:]}"


def observation_line(obs: Observation) -> str:
    text = obs.text
    if obs.key.startswith("entity:") and " mentions" not in text:  # counts are fields: their text stays put
        text += (f": {obs.count} mentions in {len(obs.sessions)} sessions, "
                 f"{obs.first_seen:%Y-%m-%d} to {obs.last_seen:%Y-%m-%d}")
    return f"- {escape(text)}"


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


# The same episodes and facts come back query after query (and twice in one render): each episode's
# line is escaped once and each line's tokens counted once, and kept at most LINES_TTL seconds, so a
# delete in another process (PostgreSQL) leaves no text behind in this one after a minute.
LINES_TTL = 60.0
_clock: Callable[[], float] = time.monotonic
_kept_lock = threading.Lock()
_bodies: Expiring[tuple[str | None, str | None, str, int], str] = Expiring(LINES_TTL, 4096, lambda: _clock())
_counts: Expiring[str, int] = Expiring(LINES_TTL, 4096, lambda: _clock())
_V = TypeVar("_V")
_K = TypeVar("_K", bound=Hashable)


def _kept(kept: Expiring[_K, _V], key: _K, make: Callable[[], _V]) -> _V:
    with _kept_lock:
        found = kept.get(key)
    if found is None:
        found = make()
        with _kept_lock:
            kept.put(key, found)
    return found


class _Tokens:
    """One render's token counts of lines: those kept from earlier renders are looked up in one go
    (one lock, one clock read), the others counted once and kept when the render ends."""

    def __init__(self, lines: Sequence[str]) -> None:
        with _kept_lock:
            found = _counts.get_many(lines)
        self.known = {t: n for t, n in zip(lines, found) if n is not None}
        self.new: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        n = self.known.get(text)
        if n is None:
            n = self.known[text] = self.new[text] = count_tokens(text)
        return n

    def keep(self) -> None:
        if self.new:
            with _kept_lock:
                _counts.put_many(self.new.items())


def _episode_lines(episodes: Sequence[Episode], memo: dict[tuple[str, str], str]) -> None:
    """Each candidate episode's line into ``memo``, the kept ones looked up in one go."""
    keys = [_body_key(e, _EPISODE_CHARS) for e in episodes]
    with _kept_lock:
        found = _bodies.get_many(keys)
    made: dict[tuple[str | None, str | None, str, int], str] = {}
    for e, key, body in zip(episodes, keys, found):
        if body is None:
            body = made.get(key) or _body(*key)
            made[key] = body
        memo[("episodes", e.uuid)] = body
    if made:
        with _kept_lock:
            _bodies.put_many(made.items())


def forget_lines() -> None:
    """Drop the lines kept between renders (after a delete: no deleted text stays in memory)."""
    with _kept_lock:
        _bodies.drop(lambda _: True)
        _counts.drop(lambda _: True)


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
    _episode_lines(parts.episodes, memo)
    tokens = _Tokens(list(memo.values()))
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
                    cost += tokens(_day_text(day)) + 1
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
