"""The user summary and observations, written by a model and updated incrementally.

One call per processing run: the model sees the current summary and observations and only the
facts learned and closed since, and returns a new summary plus the observation changes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, Field

from ..extraction.prompts import summarize as prompt
from ..extraction.prompts.summarize import ObservationUpdate
from ..llm.base import LLMClient

__all__ = ["ObservationUpdate", "SummaryUpdate", "summarize_with_llm"]


class SummaryUpdate(BaseModel):
    """The new summary and the observations to add, rewrite or remove."""

    summary: str
    observations: list[ObservationUpdate] = Field(default_factory=list)


def summarize_with_llm(llm: LLMClient, *, user_name: str, current_summary: str | None,
                       observations: Sequence[tuple[str, str]], new_facts: Sequence[str],
                       closed_facts: Sequence[str], episodes: Sequence[str] = (),
                       max_facts: int = 80, questions: Sequence[str] = (),
                       current_facts: Sequence[str] = ()) -> SummaryUpdate:
    """Update the summary with one call; no call (the current state back) when nothing changed.

    Args:
        llm: the client.
        user_name: whom the summary is about.
        current_summary: the summary so far, or None.
        observations: current (key, text) observations.
        new_facts: sentences of facts learned since the last summary (the latest ``max_facts`` are sent).
        closed_facts: sentences of facts closed since then.
        episodes: the episodes the update covers, for accounting.
        questions: questions the summary must always answer ("What is the user's budget?").
        current_facts: sentences of the user's current facts, which answer them (sent only with questions).
    """
    if not new_facts and not closed_facts:
        return SummaryUpdate(summary=current_summary or "")
    inp = prompt.SummaryInput(
        user_name=user_name, current_summary=current_summary,
        observations=[prompt.ObservationIn(key=k, text=t) for k, t in observations],
        new_facts=list(new_facts)[-max_facts:], closed_facts=list(closed_facts)[-max_facts:],
        questions=list(questions), current_facts=list(current_facts)[-max_facts:] if questions else [])
    out = llm.generate_structured(prompt.build_messages(inp), prompt.SummaryOutput, name=prompt.NAME,
                                  episodes=list(episodes))
    known = {_key(k): k for k, _ in observations}
    updates: dict[str, ObservationUpdate] = {}
    for update in out.observations:
        key = known.get(_key(update.key), _key(update.key))
        if not key or (update.remove and key not in known.values()) or (not update.remove and not update.text.strip()):
            continue
        updates[key] = ObservationUpdate(key=key, text=update.text.strip(), remove=update.remove)
    return SummaryUpdate(summary=out.summary.strip() or (current_summary or ""), observations=list(updates.values()))


def _key(raw: str) -> str:
    """'Favorite Author' -> 'favorite_author'."""
    return re.sub(r"[^a-z0-9]+", "_", raw.strip().casefold()).strip("_")[:64]
