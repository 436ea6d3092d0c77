"""Prompt: judge new facts against existing ones, duplicates and contradictions in one call.

New facts are numbered ``N1``..., existing facts ``X1``...; each new fact names the existing
facts it may be compared with (those sharing an endpoint), so the model never sees the whole
graph nor a database id.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

__all__ = ["NAME", "VERSION", "FactVerdict", "NewFact", "ResolveFact", "ResolveInput", "ResolveOutput",
           "build_messages", "constrained_output", "render_fact"]

NAME = "resolve"
VERSION = "resolve-2"


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

    model_config = ConfigDict(extra="forbid")

    new: str
    duplicate_of: str | None = None
    contradicts: list[str] = Field(default_factory=list)


class ResolveOutput(BaseModel):
    """One verdict per new fact."""

    model_config = ConfigDict(extra="forbid")

    verdicts: list[FactVerdict] = Field(default_factory=list)


_ID = re.compile(r"^\s*\[?([NX])\s*(\d+)\]?\s*$", re.IGNORECASE)


def constrained_output(n_new: int, n_existing: int, texts: dict[str, str]) -> type[ResolveOutput]:
    """The answer schema for one call: ids are enums of the ids offered (``N1``..., ``X1``...),
    so a constrained decoder (OpenAI strict mode, llama.cpp, vLLM) can only write an offered id.

    Without constrained decoding a model copies a fact's text where its id belongs (Qwen2.5 1.5B
    did in every verdict): ``texts`` (rendered lines and sentences -> their id) maps it back before
    validation; a verdict on no offered fact and a reference to an X never offered are dropped,
    not fatal. Anything else malformed (a list where one id belongs) still fails validation.
    """
    new_ids = tuple(f"N{i}" for i in range(1, n_new + 1)) or ("N1",)
    old_ids = tuple(f"X{i}" for i in range(1, n_existing + 1)) or ("X1",)

    def coerce(value: Any, allowed: tuple[str, ...]) -> Any:
        if not isinstance(value, str):
            return value
        match = _ID.match(value)
        if match:
            return f"{match.group(1).upper()}{int(match.group(2))}"
        text = value.strip().casefold()
        mapped = texts.get(text)
        if mapped is None and len(text) > 8:  # a line with its own id in front ("N2 Jane ..."), or cut short
            mapped = next((i for t, i in texts.items() if i in allowed and (t in text or text in t)), None)
        return mapped if mapped is not None else value

    def clean(cls: Any, data: Any) -> Any:
        verdicts = data.get("verdicts") if isinstance(data, dict) else None
        if not isinstance(verdicts, list):
            return data
        kept = []
        for position, raw in enumerate(verdicts):
            if not isinstance(raw, dict):
                kept.append(raw)
                continue
            item = dict(raw)
            item["new"] = coerce(item.get("new"), new_ids)
            if item["new"] not in new_ids and len(verdicts) == n_new:
                item["new"] = new_ids[position]  # one verdict per fact, in order, as asked
            if item["new"] not in new_ids:
                continue  # a verdict on a fact never offered
            dup = coerce(item.get("duplicate_of"), old_ids)
            item["duplicate_of"] = None if isinstance(dup, str) and dup not in old_ids else dup
            contra = item.get("contradicts")
            if isinstance(contra, list):
                item["contradicts"] = [c for c in (coerce(x, old_ids) for x in contra)
                                       if not (isinstance(c, str) and c not in old_ids)]
            kept.append(item)
        return {**data, "verdicts": kept}

    new_type: Any = Literal[new_ids]  # type: ignore[valid-type]
    old_type: Any = Literal[old_ids]  # type: ignore[valid-type]
    validators: dict[str, Any] = {"_clean": model_validator(mode="before")(clean)}
    verdict: Any = create_model("FactVerdict", __base__=FactVerdict, new=(new_type, ...),
                                duplicate_of=(old_type | None, None),
                                contradicts=(list[old_type], Field(default_factory=list)))
    output: type[ResolveOutput] = create_model("ResolveOutput", __base__=ResolveOutput,
                                               verdicts=(list[verdict], Field(default_factory=list)),
                                               __validators__=validators)
    return output


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


def render_fact(fact: ResolveFact, when: str) -> str:
    """``Jane Smith LIVES_IN Denver (at 2024-03-20): Jane Smith moved to Denver.``"""
    date = f" ({when} {fact.valid_at})" if fact.valid_at else ""
    return f"{fact.source} {fact.relation} {fact.target}{date}: {fact.fact}"


_render = render_fact
