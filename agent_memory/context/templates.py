"""Context templates: ``%{name key=value ...}`` placeholders, checked when a template is created."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from ..errors import TemplateError

__all__ = ["DEFAULT_TEMPLATE", "PLACEHOLDERS", "Placeholder", "parse_template", "template_kinds", "template_shown"]

PLACEHOLDERS: dict[str, frozenset[str]] = {
    "user_summary": frozenset(),
    "observations": frozenset({"limit"}),
    "edges": frozenset({"limit", "types", "valid_only"}),
    "entities": frozenset({"limit", "types"}),
    "episodes": frozenset({"limit", "types"}),
}

DEFAULT_TEMPLATE = """<USER_SUMMARY>
%{user_summary}
</USER_SUMMARY>
<FACTS>
%{edges limit=10}
</FACTS>
<EPISODES>
%{episodes limit=200}
</EPISODES>
<ENTITIES>
%{entities limit=5}
</ENTITIES>"""

_TOKEN = re.compile(r"%\{([^{}]*)\}")
_ARG = re.compile(r"^([a-z_]+)=([A-Za-z0-9_,.\-]+)$")


@dataclass(frozen=True)
class Placeholder:
    """One parsed ``%{...}``: where it stands in the template and what it asks for."""

    start: int
    end: int
    name: str
    limit: int | None = None
    types: tuple[str, ...] = ()
    valid_only: bool = False
    raw: str = field(default="", compare=False)


def _parse_one(match: re.Match[str]) -> Placeholder:
    raw = match.group(0)
    parts = match.group(1).split()
    if not parts:
        raise TemplateError(f"empty placeholder {raw!r}; use one of {sorted(PLACEHOLDERS)}")
    name, args = parts[0], parts[1:]
    if name not in PLACEHOLDERS:
        raise TemplateError(f"unknown placeholder {raw!r}; known: {', '.join('%{' + p + '}' for p in PLACEHOLDERS)}")
    values: dict[str, str] = {}
    for arg in args:
        m = _ARG.match(arg)
        if not m or m.group(1) not in PLACEHOLDERS[name]:
            allowed = ", ".join(sorted(PLACEHOLDERS[name])) or "no arguments"
            raise TemplateError(f"bad argument {arg!r} in {raw!r}; {name} takes {allowed} (as key=value)")
        values[m.group(1)] = m.group(2)
    limit = None
    if "limit" in values:
        if not values["limit"].isdigit() or not 0 < int(values["limit"]) <= 1000:
            raise TemplateError(f"limit in {raw!r} must be a whole number from 1 to 1000")
        limit = int(values["limit"])
    valid_only = values.get("valid_only", "false").lower()
    if valid_only not in ("true", "false"):
        raise TemplateError(f"valid_only in {raw!r} must be true or false")
    types = tuple(t for t in values.get("types", "").split(",") if t)
    return Placeholder(match.start(), match.end(), name, limit, types, valid_only == "true", raw)


def parse_template(template: str) -> list[Placeholder]:
    """Every placeholder of ``template``, in order; raises TemplateError on any mistake."""
    if not isinstance(template, str) or not template.strip():
        raise TemplateError("a context template must be a non-empty string")
    return list(_parsed(template))


@functools.lru_cache(maxsize=64)
def _parsed(template: str) -> tuple[Placeholder, ...]:
    """``parse_template`` once per template text (a read parses its template three times)."""
    found = tuple(_parse_one(m) for m in _TOKEN.finditer(template))
    stray = _TOKEN.sub("", template)
    if "%{" in stray:
        raise TemplateError("unclosed placeholder: a '%{' has no matching '}'")
    if not found:
        raise TemplateError(f"template has no placeholder; use at least one of {sorted(PLACEHOLDERS)}")
    return found


_KIND_OF = {"edges": "fact", "entities": "entity", "episodes": "episode", "observations": "observation"}


def template_kinds(template: str) -> tuple[str, ...]:
    """The kinds of record a template shows, so a read ranks nothing it will not render (the default
    template has no observations). Entities are ranked with the facts' endpoints and facts with the
    best episodes, so each brings the next: the records shown are the same as ranking every kind."""
    kinds = {_KIND_OF[ph.name] for ph in parse_template(template) if ph.name in _KIND_OF}
    if "entity" in kinds:
        kinds.add("fact")
    if "fact" in kinds:
        kinds.add("episode")
    return tuple(k for k in ("fact", "entity", "episode", "observation") if k in kinds)


def template_shown(template: str) -> int | None:
    """The most entities or observations a template shows (none: a section without a limit)."""
    limits = [ph.limit for ph in parse_template(template) if ph.name in ("entities", "observations")]
    return max((n for n in limits if n is not None), default=0) if None not in limits else None
