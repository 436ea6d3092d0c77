"""A paraphrase suite for the offline extractor: everyday ways to state a change, and non-statements.

Each case is one message by the user (Jane Smith). ``want`` lists (relation, target, ends) facts
that must come out about the user; ``never`` lists (relation, target) pairs that must not come
out about the user as current (a negative case has ``want=()``). Targets match case-insensitively
by containment ("Stripe" matches "Stripe Inc"). Run ``python -m benchmarks.paraphrases`` to print
the pass rate and the failures.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = ["CASES", "Case", "check", "run_suite"]

USER = "Jane Smith"


@dataclass(frozen=True)
class Case:
    """One phrasing and what must (and must not) be extracted from it."""

    text: str
    want: tuple[tuple[str, str, bool], ...] = ()
    never: tuple[tuple[str, str], ...] = ()
    topic: str = ""
    name: str | None = field(default=None)


def _c(topic: str, text: str, want: Sequence[tuple[str, str, bool]] = (),
       never: Sequence[tuple[str, str]] = ()) -> Case:
    return Case(text, tuple(want), tuple(never), topic)


_L, _W, _J, _R, _P, _LI, _DI = "LIVES_IN", "WORKS_AT", "JOB_TITLE", "RELATIONSHIP_STATUS", "HAS_PLAN", "LIKES", \
    "DISLIKES"

CASES: tuple[Case, ...] = (
    # residence
    _c("residence", "I moved to Denver last week.", [(_L, "Denver", False)]),
    _c("residence", "Just moved into a new apartment in Denver, loving it.", [(_L, "Denver", False)]),
    _c("residence", "My new place in Denver is great.", [(_L, "Denver", False)]),
    _c("residence", "I'm based in Denver these days.", [(_L, "Denver", False)]),
    _c("residence", "I moved to Denver last week, and the weather has been wild.", [(_L, "Denver", False)]),
    _c("residence", "Big news: I moved to Denver last week! Still with Acme Corp, remote now.",
       [(_L, "Denver", False)]),
    _c("residence", "I live in Denver now.", [(_L, "Denver", False)]),
    _c("residence", "These days I'm living in Denver.", [(_L, "Denver", False)]),
    _c("residence", "I've been living in Denver since January.", [(_L, "Denver", False)]),
    _c("residence", "Finally settled in Denver after the move.", [(_L, "Denver", False)]),
    _c("residence", "We relocated to Denver in March.", [(_L, "Denver", False)]),
    _c("residence", "Finally got my own apartment in Denver!", [(_L, "Denver", False)]),
    _c("residence", "I no longer live in Boston.", [(_L, "Boston", True)]),
    _c("residence", "I moved out of Boston in May.", [(_L, "Boston", True)]),
    _c("residence", "I left Boston for Denver last month.", [(_L, "Denver", False)]),
    _c("residence-neg", "I'm thinking about moving to Denver.", never=[(_L, "Denver")]),
    _c("residence-neg", "Should I move to Denver?", never=[(_L, "Denver")]),
    _c("residence-neg", "My sister lives in Denver.", never=[(_L, "Denver")]),
    _c("residence-neg", "If I moved to Denver, I'd miss the ocean.", never=[(_L, "Denver")]),
    _c("residence-neg", "I visited Denver last week.", never=[(_L, "Denver")]),
    _c("residence-neg", "My friend said I should move to Denver.", never=[(_L, "Denver")]),
    _c("residence-neg", "I don't live in Denver.", never=[(_L, "Denver")]),
    _c("residence-neg", "Tom told me he moved to Denver.", never=[(_L, "Denver")]),
    _c("residence-neg", "I might move to Denver next year.", never=[(_L, "Denver")]),
    _c("residence-neg", "Is the new place in Denver nice?", never=[(_L, "Denver")]),
    # job and employer
    _c("job", "I just started at Stripe.", [(_W, "Stripe", False)]),
    _c("job", "I work at Google as an engineer.", [(_W, "Google", False), (_J, "engineer", False)]),
    _c("job", "Started a new job at Stripe last Monday.", [(_W, "Stripe", False)]),
    _c("job", "I'm now working for Stripe.", [(_W, "Stripe", False)]),
    _c("job", "I got hired by Stripe.", [(_W, "Stripe", False)]),
    _c("job", "I accepted an offer from Stripe.", [(_W, "Stripe", False)]),
    _c("job", "I joined Stripe last month as a designer.", [(_W, "Stripe", False)]),
    _c("job", "Just landed a job at Stripe, so excited!", [(_W, "Stripe", False)]),
    _c("job", "My first day at Stripe was yesterday.", [(_W, "Stripe", False)]),
    _c("job", "I quit my job at Acme.", [(_W, "Acme", True)]),
    _c("job", "I left Acme Corp in May.", [(_W, "Acme", True)]),
    _c("job", "I'm a nurse.", [(_J, "nurse", False)]),
    _c("job", "I work as a nurse at Mercy Hospital.", [(_J, "nurse", False), (_W, "Mercy Hospital", False)]),
    _c("job-neg", "I applied to Stripe.", never=[(_W, "Stripe")]),
    _c("job-neg", "I'd love to work at Stripe.", never=[(_W, "Stripe")]),
    _c("job-neg", "Do you work at Stripe?", never=[(_W, "Stripe")]),
    _c("job-neg", "My brother works at Stripe.", never=[(_W, "Stripe")]),
    _c("job-neg", "I have an interview at Stripe tomorrow.", never=[(_W, "Stripe")]),
    _c("job-neg", "Anna said she just started at Stripe.", never=[(_W, "Stripe")]),
    # relationship status
    _c("relationship", "I'm married.", [(_R, "married", False)]),
    _c("relationship", "I got engaged to Tom last weekend.", [("ENGAGED_TO", "Tom", False)]),
    _c("relationship", "I'm single again.", [(_R, "single", False)]),
    _c("relationship", "I married Tom in June.", [("MARRIED_TO", "Tom", False)]),
    _c("relationship", "We got divorced last year.", [(_R, "divorced", False)]),
    _c("relationship-neg", "I'm not married.", never=[(_R, "married")]),
    _c("relationship-neg", "Is she married?", never=[(_R, "married")]),
    _c("relationship-neg", "My brother got married in June.", never=[(_R, "married")]),
    # plan
    _c("plan", "I upgraded to the Pro plan yesterday.", [(_P, "Pro", False)]),
    _c("plan", "I'm on the Business plan.", [(_P, "Business", False)]),
    _c("plan", "Switched to the Pro plan last week.", [(_P, "Pro", False)]),
    _c("plan", "I cancelled my Premium subscription.", [(_P, "Premium", True)]),
    _c("plan-neg", "Should I upgrade to the Pro plan?", never=[(_P, "Pro")]),
    _c("plan-neg", "I'm considering the Pro plan.", never=[(_P, "Pro")]),
    _c("plan-neg", "What does the Pro plan cost?", never=[(_P, "Pro")]),
    # preferences
    _c("preference", "I love hiking.", [(_LI, "hiking", False)]),
    _c("preference", "I'm really into pottery these days.", [(_LI, "pottery", False)]),
    _c("preference", "I can't stand olives.", [(_DI, "olives", False)]),
    _c("preference", "I don't like olives anymore.", [(_LI, "olives", True)]),
    _c("preference", "I've always enjoyed painting.", [(_LI, "painting", False)]),
    _c("preference", "I'm a huge fan of Octavia Butler.", [(_LI, "Octavia Butler", False)]),
    _c("preference", "I prefer email contact.", [("PREFERS", "email", False)]),
    _c("preference-neg", "Do you like hiking?", never=[(_LI, "hiking")]),
    _c("preference-neg", "My sister loves hiking.", never=[(_LI, "hiking")]),
    _c("preference-neg", "I don't love hiking.", never=[(_LI, "hiking")]),
    # written after the rules above were changed (a check that they generalise)
    _c("residence", "Moved to Seattle in April, still unpacking boxes.", [(_L, "Seattle", False)]),
    _c("residence", "We just bought a house in Austin!", [(_L, "Austin", False)]),
    _c("residence", "I relocated to Berlin for work last year.", [(_L, "Berlin", False)]),
    _c("residence-neg", "My parents live in Austin.", never=[(_L, "Austin")]),
    _c("residence-neg", "Would you ever move to Austin?", never=[(_L, "Austin")]),
    _c("job", "I'm working at Globex now.", [(_W, "Globex", False)]),
    _c("job", "Got a job at Initech last month.", [(_W, "Initech", False)]),
    _c("job", "I resigned from Acme Corp last Friday.", [(_W, "Acme", True)]),
    _c("job-neg", "I was hoping to get a job at Globex.", never=[(_W, "Globex")]),
    _c("relationship", "I got married last summer.", [(_R, "married", False)]),
    _c("relationship-neg", "Are you married?", never=[(_R, "married")]),
    _c("plan", "I downgraded to the Basic plan.", [(_P, "Basic", False)]),
    _c("preference", "I absolutely love jazz.", [(_LI, "jazz", False)]),
    _c("preference", "I hate running.", [(_DI, "running", False)]),
    _c("preference-neg", "Do you enjoy jazz?", never=[(_LI, "jazz")]),
)


def _matches(fact_target: str, want: str) -> bool:
    return want.casefold() in fact_target.casefold()


def check(case: Case, facts: Sequence[object]) -> list[str]:
    """What is wrong with ``facts`` (ExtractedFact-like) for ``case``; [] when it passes."""
    mine: list[Any] = [f for f in facts if f.source == USER]  # type: ignore[attr-defined]
    problems = []
    for rel, target, ends in case.want:
        if not any(f.relation == rel and _matches(f.target, target) and bool(f.ends) == ends for f in mine):
            problems.append(f"missing {rel} {target}{' (ended)' if ends else ''}")
    for rel, target in case.never:
        bad = [f for f in mine if f.relation == rel and _matches(f.target, target) and not f.ends]
        if bad:
            problems.append(f"unwanted {rel} {target}")
    return problems


def run_suite(extractor: object | None = None) -> tuple[int, int, list[tuple[Case, list[str], list[str]]]]:
    """(passed, total, failures with their problems and the facts produced)."""
    from agent_memory.extraction import ExtractionContext, OfflineExtractor
    from agent_memory.models import Episode, EpisodeSource, Role

    ex = extractor or OfflineExtractor()
    ctx = ExtractionContext(user_id="jane", user_name=USER, user_aliases=["Jane"])
    ref = datetime(2024, 6, 10, 12, 0, tzinfo=timezone.utc)
    episodes = [Episode(user_id="jane", source=EpisodeSource.message, role=Role.user, content=c.text,
                        reference_time=ref) for c in CASES]
    results = ex.extract(episodes, ctx)  # type: ignore[attr-defined]
    failures = []
    for case, result in zip(CASES, results, strict=True):
        problems = check(case, result.facts)
        if problems:
            got = [f"{f.source} {f.relation} {f.target}{' (ended)' if f.ends else ''}" for f in result.facts]
            failures.append((case, problems, got))
    return len(CASES) - len(failures), len(CASES), failures


def main() -> int:
    passed, total, failures = run_suite()
    for case, problems, got in failures:
        print(f"FAIL [{case.topic}] {case.text!r}: {'; '.join(problems)}; got {got}")
    print(f"paraphrase suite: {passed}/{total} passed ({100 * passed / total:.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
