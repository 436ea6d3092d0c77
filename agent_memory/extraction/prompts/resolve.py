"""Prompt: judge new facts against existing ones, duplicates and contradictions in one call.

New facts are numbered ``N1``..., existing facts ``X1``...; each new fact names the existing
facts it may be compared with (those sharing an endpoint), so the model never sees the whole
graph nor a database id.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["NAME", "VERSION", "FactVerdict", "NewFact", "ResolveFact", "ResolveInput", "ResolveOutput",
           "build_messages"]

NAME = "resolve"
VERSION = "resolve-1"


class ResolveFact(BaseModel):
    """A fact as the prompt shows it."""

    source: str
    relation: str
    target: str
    fact: str
    valid_at: str | None = None  # ISO date or timestamp


class NewFact(ResolveFact):
    """A new fact and the 1-based numbers of the existing facts it is compared with."""

    compare_with: list[int] = Field(default_factory=list)


class ResolveInput(BaseModel):
    """New candidate facts (N1...) and existing current facts (X1...)."""

    new: list[NewFact]
    existing: list[ResolveFact]


class FactVerdict(BaseModel):
    """The verdict on one new fact."""

    new: str
    duplicate_of: str | None = None
    contradicts: list[str] = Field(default_factory=list)


class ResolveOutput(BaseModel):
    """One verdict per new fact."""

    verdicts: list[FactVerdict] = Field(default_factory=list)


_SYSTEM = """\
You keep a person's memory consistent. New facts (N1, N2, ...) were just learned; existing \
facts (X1, X2, ...) are what memory currently holds as true. Judge each new fact against the \
existing facts on its "compare with" line, and only those:
- duplicate_of: the X id of an existing fact that states the same thing, in other words or with \
more or less detail; else null.
- contradicts: the X ids of existing facts that cannot still be true now if the new fact is \
true (a new job replaces the old one, a sold car is no longer owned, a reversed opinion). Facts \
that can both be true do not contradict: liking two authors, visiting one city while living in \
another, an earlier event and a later one.
Use only the ids shown, and never name the same X as both duplicate and contradiction. Give one \
verdict per new fact, in order."""


def build_messages(inp: ResolveInput) -> list[dict[str, str]]:
    """The chat messages for one resolution call (pure)."""
    lines = ["New facts:"]
    for i, fact in enumerate(inp.new, 1):
        lines.append(f"N{i} {_render(fact, 'at')}")
        compare = ", ".join(f"X{n}" for n in fact.compare_with) or "none"
        lines.append(f"   compare with: {compare}")
    lines.append("Existing facts:")
    lines.extend(f"X{i} {_render(fact, 'since')}" for i, fact in enumerate(inp.existing, 1))
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": "\n".join(lines)}]


def _render(fact: ResolveFact, when: str) -> str:
    date = f" ({when} {fact.valid_at})" if fact.valid_at else ""
    return f"{fact.source} {fact.relation} {fact.target}{date}: {fact.fact}"
