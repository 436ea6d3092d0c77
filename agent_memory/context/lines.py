"""The lines of a context block: escaped, one per record, and the caches that make them once.

Every line is one line (breaks and control characters in stored text never start a new one), and
nothing a record says can open a tag or a placeholder (``escape``). Events are dated by their day,
lasting states by their range (``fact_when``). Episode lines and token counts are kept for
``LINES_TTL`` seconds between renders.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from datetime import date, datetime
from typing import TypeVar

from .._expiring import Expiring
from ..models import Entity, Episode, Fact, Observation
from .tokens import count_tokens

__all__ = [
    "LINES_TTL",
    "LineTokens",
    "day_line",
    "day_text",
    "entity_line",
    "episode_body",
    "episode_lines",
    "escape",
    "fact_line",
    "fact_when",
    "forget_lines",
    "is_event",
    "observation_line",
    "one_line",
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
    return day_text(ts.date())


@functools.lru_cache(maxsize=4096)
def day_text(day: date) -> str:
    """``day_line`` of a date (kept: a block dates many episodes with few days)."""
    return day.strftime("%Y-%m-%d %a")


def observation_line(obs: Observation) -> str:
    text = obs.text
    if obs.key.startswith("entity:") and " mentions" not in text:  # counts are fields: their text stays put
        text += (f": {obs.count} mentions in {len(obs.sessions)} sessions, "
                 f"{obs.first_seen:%Y-%m-%d} to {obs.last_seen:%Y-%m-%d}")
    return f"- {escape(text)}"


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


class LineTokens:
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


def episode_lines(episodes: Sequence[Episode], memo: dict[tuple[str, str], str]) -> None:
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
