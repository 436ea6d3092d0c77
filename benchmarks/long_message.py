"""CPU time of the offline extractor on one message at the 100,000-character limit (run by hand).

    python -m benchmarks.long_message

Two messages of ``MemoryConfig.max_content_chars`` characters: varied prose (every sentence
different, with names and dates) and a repetitive one (one dated sentence over and over). Prints
the offline extractor's CPU on each (it reads the first ``MESSAGE_CHARS`` characters after dropping
repeated sentences), one inline ``Memory.add_messages`` of each end to end (goal: under 2 s on a
2-core machine) and whether the message's last sentence is still found by search, then the
extractor reading everything at several lengths (its cost per character stays flat: linear).
Prints process CPU seconds (not wall time: the machine is shared).
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import datetime, timezone

from agent_memory import Memory, Message
from agent_memory.config import MemoryConfig
from agent_memory.extraction import ExtractionContext, OfflineExtractor
from agent_memory.extraction.offline import MESSAGE_CHARS
from agent_memory.models import Episode, EpisodeSource, Role

_REF = datetime(2024, 6, 1, tzinfo=timezone.utc)

_NAMES = ["Ana", "Tom", "Priya", "Marcus", "Lena", "Omar", "Sofia", "Kenji"]
_PLACES = ["Denver", "Lisbon", "Boston", "Austin", "Seattle", "Berlin", "Toronto", "Osaka"]
_ORGS = ["Acme Corp", "Stripe", "Google", "Mercy Hospital", "Initech", "Globex"]
_DATES = ["last week", "in May", "yesterday", "two years ago", "on Monday", "last summer"]
_TEMPLATES = [  # {n} makes every sentence different: nothing is skipped as a repeat
    "I moved to {place} {date} and I love the {n} coffee shops there.",
    "My sister {name} works at {org} as a designer on {n} projects.",
    "{name} said the weather in {place} was great for {n} days {date}.",
    "I started a new job at {org} {date}, which is exciting after {n} interviews.",
    "We visited {place} {date} with {name} and took {n} photos.",
    "I don't like olives anymore, but {name} still eats {n} a day.",
    "Is {name} still living in {place} with {n} cats?",
    "My favorite book is Dune, and I read it again {date}, {n} pages a night.",
]


def prose(limit: int, seed: int = 7) -> str:
    """Varied sentences with names, places, organisations and dates, up to ``limit`` characters."""
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    while True:
        s = rng.choice(_TEMPLATES).format(name=rng.choice(_NAMES), place=rng.choice(_PLACES),
                                          org=rng.choice(_ORGS), date=rng.choice(_DATES), n=len(parts) + 2)
        if size + len(s) + 1 > limit:
            return " ".join(parts)
        parts.append(s)
        size += len(s) + 1


def repetitive(limit: int) -> str:
    """One dated sentence repeated up to ``limit`` characters."""
    unit = "I moved to Denver last week. "
    return (unit * (limit // len(unit))).strip()


def _extractor_cpu(ex: OfflineExtractor, text: str) -> tuple[float, int]:
    ctx = ExtractionContext(user_id="u", user_name="Jane Smith", user_aliases=["Jane"])
    ep = Episode(user_id="u", source=EpisodeSource.message, role=Role.user, content=text, reference_time=_REF)
    start = time.process_time()
    out = ex.extract([ep], ctx)[0]
    return time.process_time() - start, len(out.facts)


def _end_to_end(text: str) -> tuple[float, bool]:
    """CPU of one inline ``add_messages`` (SQLite + embedded Chroma + MiniLM + the offline extractor),
    and whether a search for the message's last sentence finds it."""
    with tempfile.TemporaryDirectory(prefix="long-message-") as home:
        memory = Memory(home)
        memory.user.add(user_id="u", first_name="Jane", last_name="Smith")
        memory.thread.create(thread_id="t", user_id="u")
        memory.thread.add_messages("t", messages=[Message(role="user", content=prose(3_000, seed=1))])  # loads models
        start = time.process_time()
        memory.thread.add_messages("t", messages=[Message(role="user", content=text)])
        cpu = time.process_time() - start
        last = [s for s in text.split(". ") if s.strip()][-1]
        hits = memory.graph.search(user_id="u", query=last, scope="episodes", limit=3)
        found = any(h.episode is not None and h.episode.content == text for h in hits)
        memory.close()
    return cpu, found


def main() -> None:
    limit = MemoryConfig().max_content_chars
    capped, full = OfflineExtractor(), OfflineExtractor(message_chars=None)
    for ex in (capped, full):  # load spaCy and dateparser (and its date phrases) outside the timings
        _extractor_cpu(ex, prose(3_000, seed=1))
    texts = (("prose", prose(limit)), ("repetitive", repetitive(limit)))
    for label, text in texts:
        cpu, facts = _extractor_cpu(capped, text)
        print(f"extractor, {label} ({len(text):,} chars, reads {MESSAGE_CHARS:,}): {cpu:.2f} CPU s, {facts} facts")
    for label, text in texts:
        cpu, found = _end_to_end(text)
        print(f"add_messages inline, {label}: {cpu:.2f} CPU s (goal < 2 s); last sentence found by search: {found}")
    print("reading everything (message_chars=None), varied prose:")
    for size in (10_000, 25_000, 50_000, limit):
        cpu, facts = _extractor_cpu(full, prose(size, seed=size))
        print(f"  {size:>7,} chars: {cpu:.2f} CPU s ({cpu / size * 1e6:.0f} CPU-us a char), {facts} facts")


if __name__ == "__main__":
    main()
