"""Read a rendered context block back into its sections: for tests that check its shape.

A block from a tag template (``<FACTS>`` ... ``</FACTS>``) or a Markdown one (``# FACTS`` lines) is split
into the lines under each section; ``check_block`` asserts that every record the block reports shows as
exactly one line of its section, with nothing else there but the episodes' date lines.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["check_block", "markdown_sections", "tag_sections"]

_OPEN = re.compile(r"^<([A-Z_]+)>$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2} (Mon|Tue|Wed|Thu|Fri|Sat|Sun)$")


def tag_sections(text: str) -> dict[str, list[str]]:
    """``{"FACTS": [lines...], ...}`` of a block made of ``<NAME>`` / ``</NAME>`` lines; raises AssertionError
    on a tag opened twice, left open or closed out of order."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        opened = _OPEN.match(line)
        if opened and current is None:
            name = opened.group(1)
            assert name not in sections, f"section {name} opened twice"
            sections[name], current = [], name
        elif current is not None and line == f"</{current}>":
            current = None
        else:
            assert current is not None, f"line outside any section: {line!r}"
            assert not _OPEN.match(line) and not line.startswith("</"), f"a tag inside {current}: {line!r}"
            sections[current].append(line)
    assert current is None, f"section {current} left open"
    return sections


def markdown_sections(text: str, headers: list[str]) -> dict[str, list[str]]:
    """The lines under each of ``headers`` (e.g. ``"# FACTS"``); each header must appear exactly once."""
    lines = text.splitlines()
    for header in headers:
        assert lines.count(header) == 1, f"{header!r} appears {lines.count(header)} times"
    sections: dict[str, list[str]] = {}
    current = None
    for line in lines:
        if line in headers:
            current = line
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return sections


def check_block(sections: dict[str, list[str]], context: Any, names: dict[str, str]) -> None:
    """Every reported fact, entity, observation and episode is one line of its section, and nothing else is.

    ``context``: the UserContext; ``names``: which section holds ``facts``/``entities``/``episodes``/
    ``observations``/``user_summary`` (e.g. ``{"facts": "FACTS"}``).
    """
    for kind in ("facts", "entities", "observations"):
        if kind in names:
            lines = [line for line in sections[names[kind]] if line]
            assert len(lines) == len(getattr(context, kind)), f"{kind}: {lines}"
            assert all(line.startswith("- ") for line in lines), lines
    if "episodes" in names:
        lines = [line for line in sections[names["episodes"]] if line]
        items = [line for line in lines if not _DAY.match(line)]
        assert len(items) == len(context.episodes), f"episodes: {lines}"
        assert all(line.startswith("- ") for line in items), lines
        days = {e.reference_time.strftime("%Y-%m-%d") for e in context.episodes}
        assert len(lines) - len(items) == len(days), f"date lines: {lines}"
    if "user_summary" in names:
        lines = [line for line in sections[names["user_summary"]] if line]
        assert len(lines) == (1 if context.user_summary else 0), lines
