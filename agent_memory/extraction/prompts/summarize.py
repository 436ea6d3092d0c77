"""Prompt: update the user's summary and observations with only what changed, in one call."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

__all__ = ["NAME", "VERSION", "ObservationIn", "ObservationUpdate", "SummaryInput", "SummaryOutput",
           "build_messages"]

NAME = "summarize"
VERSION = "summarize-1"


class ObservationIn(BaseModel):
    """A current observation."""

    key: str
    text: str


class SummaryInput(BaseModel):
    """The current profile and what memory learned (and retired) since it was written."""

    user_name: str
    current_summary: str | None = None
    observations: list[ObservationIn] = Field(default_factory=list)
    new_facts: list[str] = Field(default_factory=list)
    closed_facts: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)  # the summary must always answer these
    current_facts: list[str] = Field(default_factory=list)  # what answers them (only with questions)


class ObservationUpdate(BaseModel):
    """An observation to add or rewrite (same key), or to remove."""

    key: str
    text: str = ""
    remove: bool = False


class SummaryOutput(BaseModel):
    """The new summary and the observation changes."""

    summary: str
    observations: list[ObservationUpdate] = Field(default_factory=list)


_SYSTEM = """\
You maintain a short profile of {user} for an assistant that talks with them. Update it from \
what memory just learned, changing only what the new information changes.
- summary: at most 120 words, present tense, third person, about {user}: who they are, where \
they live and work, the people and things that matter to them. Current facts only: leave out \
what is listed as no longer true. Keep the current summary's wording where nothing changed.
- observations: lasting traits, preferences, habits and patterns (not one-off events), each \
under a short snake_case key. Return only the observations to add or rewrite (the same key \
replaces the text) and those to remove (remove: true) because they are no longer true; [] when \
none change."""


def build_messages(inp: SummaryInput) -> list[dict[str, str]]:
    """The chat messages for one summary call (pure)."""
    lines = [f"Current summary: {inp.current_summary.strip() if inp.current_summary else '(none yet)'}",
             "Current observations:" + _bullets(f"{o.key}: {o.text}" for o in inp.observations),
             "Newly learned facts:" + _bullets(inp.new_facts),
             "No longer true:" + _bullets(inp.closed_facts)]
    system = _SYSTEM.format(user=inp.user_name)
    if inp.questions:
        system += _QUESTIONS
        lines += ["Questions the summary must answer:" + _bullets(inp.questions),
                  "Current facts:" + _bullets(inp.current_facts)]
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]


_QUESTIONS = """
- The summary must also answer each listed question, from the current facts only, in a short \
sentence each (say it is not known yet when no fact answers it); these answers do not count \
toward the 120 words."""


def _bullets(items: Iterable[str]) -> str:
    rows = [f"\n- {item}" for item in items]
    return "".join(rows) if rows else " none"
