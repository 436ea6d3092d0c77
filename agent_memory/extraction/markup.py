"""Strip our own context block's markup from a message before extraction, so the block never feeds itself.

An agent's reply (or a user's paste) may quote the block this library rendered: ``<FACTS>``
tags, ``# EPISODES`` headings, ``- Jane lives in Denver (2024-01-01 - present)`` lines. Read as
text, its tags become entities ("FACTS", Topic) and its lines become facts credited to whoever
quoted them. A paired upper-case tag (``<FACTS>...</FACTS>``) is our block: it goes whole (what
it says is already in memory); stray tags, upper-case headings, day lines and dated fact lines go
line by line. The stored episode keeps its full text.
"""

from __future__ import annotations

import re

__all__ = ["strip_block_markup"]

_BLOCK = re.compile(r"<([A-Z][A-Z0-9_]{1,40})>.*?</\1>", re.DOTALL)
_LINES = re.compile(
    r"^[ \t]*(?:"
    r"</?[A-Z][A-Z0-9_]{1,40}/?>"  # a lone tag
    r"|#{1,6}[ \t]*[A-Z][A-Z0-9_ ]{1,40}(?:\([^)\n]*\))?:?"  # "# EPISODES", "## FACTS (current)"
    r"|[A-Z][A-Z_]{2,40}[ \t]*\((?:[A-Z][a-z]+)\):?"  # "ENTITIES (Topic)"
    r"|\d{4}-\d{2}-\d{2}[ \t]+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"  # a day line
    r"|-[ \t].*\(\d{4}-\d{2}-\d{2}[ \t]+-[ \t]+(?:present|\d{4}-\d{2}-\d{2}|unknown)\)"  # a fact line
    r")[ \t]*$",
    re.MULTILINE,
)
_QUICK = re.compile(r"<[A-Z]|#|\(\w+\)|\d{4}-\d{2}-\d{2}")
_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]*([A-Z][A-Z0-9_ ]{1,40})[ \t]*$")
_SECTIONS = frozenset({"USER_SUMMARY", "SUMMARY", "FACTS", "EDGES", "EPISODES", "ENTITIES", "OBSERVATIONS",
                       "MEMORY", "CONTEXT", "USER SUMMARY"})
_ITEM = re.compile(r"^[ \t]*(?:- |\d{4}-\d{2}-\d{2}[ \t]+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[ \t]*$)")


def _markdown_sections(text: str) -> str:
    """Drop a Markdown block of ours: a ``# FACTS``-style heading and the list items (or, under a
    summary heading, the paragraph) that follow it."""
    out: list[str] = []
    dropping: str | None = None
    for line in text.split("\n"):
        heading = _HEADING.match(line)
        if heading and heading.group(1).strip() in _SECTIONS:
            dropping = heading.group(1).strip()
            continue
        if dropping is not None:
            if not line.strip():
                if "SUMMARY" in dropping:
                    dropping = "FACTS"  # the summary paragraph ended; list items may follow
                continue
            if _ITEM.match(line) or "SUMMARY" in dropping:
                continue
            dropping = None
        out.append(line)
    return "\n".join(out)


def strip_block_markup(text: str) -> str:
    """``text`` without our context block: paired upper-case tag blocks, Markdown sections of ours,
    then stray markup lines."""
    if not _QUICK.search(text):
        return text  # the common case costs one scan
    out = _BLOCK.sub("\n", text)
    if "#" in out:
        out = _markdown_sections(out)
    return _LINES.sub("", out)
