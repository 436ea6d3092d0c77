"""CPU time of the offline extractor on one message at the 100,000-character limit (run by hand).

    python -m benchmarks.long_message

Two messages of ``MemoryConfig.max_content_chars`` characters: varied prose (every sentence
different, with names and dates) and a repetitive one (one dated sentence over and over). Both
must extract in time linear in their length; the goal on a 2-core machine is under 2 s each.
Prints process CPU seconds (not wall time: the machine is shared).
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timezone

from agent_memory.config import MemoryConfig
from agent_memory.extraction import ExtractionContext, OfflineExtractor
from agent_memory.models import Episode, EpisodeSource, Role

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


def main() -> None:
    limit = MemoryConfig().max_content_chars
    ex = OfflineExtractor()
    ctx = ExtractionContext(user_id="u", user_name="Jane Smith", user_aliases=["Jane"])
    ref = datetime(2024, 6, 1, tzinfo=timezone.utc)
    ex.extract([Episode(user_id="u", source=EpisodeSource.message, role=Role.user, content="Warm up in May.",
                        reference_time=ref)], ctx)
    for label, text in (("prose", prose(limit)), ("repetitive", repetitive(limit))):
        ep = Episode(user_id="u", source=EpisodeSource.message, role=Role.user, content=text, reference_time=ref)
        start = time.process_time()
        out = ex.extract([ep], ctx)[0]
        cpu = time.process_time() - start
        print(f"long message ({label}, {len(text):,} chars): {cpu:.2f} CPU s, {len(out.facts)} facts "
              f"(goal < 2 s)")


if __name__ == "__main__":
    main()
