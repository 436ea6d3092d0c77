"""Checks on everything a caller hands us, run before anything is stored (pure: no I/O).

Each check returns the value (normalised where that is safe) or raises a typed error from
``agent_memory.errors`` that names the field and says what to fix. Limits are module constants.
"""

from __future__ import annotations

import json
import math
import os
import unicodedata
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic

from ._time import parse_ts
from .errors import (
    ContentTooLargeError,
    EmptyContentError,
    InvalidInputError,
    InvalidJSONError,
    InvalidTimestampError,
)

if TYPE_CHECKING:
    from .models import Message, Role
    from .retrieval.search import SearchFilters

__all__ = [
    "MAX_DEPTH",
    "MAX_ID_CHARS",
    "MAX_LIMIT",
    "MAX_NAME_CHARS",
    "MAX_TOKEN_BUDGET",
    "MIN_TOKEN_BUDGET",
    "check_content",
    "check_count",
    "check_filters",
    "check_id",
    "check_json_data",
    "check_json_value",
    "check_limit",
    "check_name",
    "check_new_id",
    "check_offset",
    "check_role",
    "check_text",
    "check_time",
    "check_token_budget",
]

MAX_ID_CHARS = 256
MAX_NAME_CHARS = 256
MAX_DEPTH = 64  # metadata and JSON events nested deeper than this are refused
MAX_LIMIT = 1_000_000
MAX_OFFSET = 2**62
MIN_TOKEN_BUDGET = 50  # as MemoryConfig.token_budget
MAX_TOKEN_BUDGET = 1_000_000
MIN_TIME = datetime(1000, 1, 1, tzinfo=timezone.utc)  # room for "a week ago" / "next year" on either side
MAX_TIME = datetime(9999, 1, 1, tzinfo=timezone.utc)
_INT64 = 2**63
# characters a reader cannot see or that break a line: refused in ids, ignored when asking "is it blank?"
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _surrogate_at(text: str) -> int | None:
    """Index of the first lone surrogate (text SQLite and JSON cannot encode), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def check_text(value: Any, what: str, *, max_chars: int | None = None) -> str:
    """A string of encodable Unicode (no lone surrogates), at most ``max_chars`` long."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    pos = _surrogate_at(value)
    if pos is not None:
        raise InvalidInputError(f"{what} has a lone surrogate {value[pos]!r} at position {pos}, which is not "
                                "valid Unicode text; decode the input properly (e.g. errors='replace')")
    if max_chars is not None and len(value) > max_chars:
        raise ContentTooLargeError(f"{what} has {len(value):,} characters; the limit is {max_chars:,}")
    return value


def _visible(text: str) -> bool:
    return any(not ch.isspace() and unicodedata.category(ch) not in _INVISIBLE for ch in text)


def check_content(value: Any, what: str, max_chars: int) -> str:
    """Message or episode text: a string with something visible in it, within ``max_chars``."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > max_chars:
        raise ContentTooLargeError(f"{what} has {len(value):,} characters, over the limit of {max_chars:,}; "
                                   "split it or raise MemoryConfig.max_content_chars")
    check_text(value, what)
    if not _visible(value):
        raise EmptyContentError(f"{what} is empty (only whitespace or invisible characters); send visible text")
    return value


def check_id(value: Any, what: str) -> str:
    """An id to look a record up by: any non-blank string (records stored earlier stay reachable)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string, got {value!r}")
    check_text(value, what)
    return value


def check_new_id(value: Any, what: str) -> str:
    """An id for a new record: visible characters only, no surrounding spaces, at most 256 characters.

    Blank, padded or invisible-character ids would make look-alike records that cannot be told apart.
    """
    check_id(value, what)
    if len(value) > MAX_ID_CHARS:
        raise InvalidInputError(f"{what} has {len(value)} characters; the limit is {MAX_ID_CHARS}")
    if value != value.strip():
        raise InvalidInputError(f"{what} {value!r} starts or ends with whitespace; strip it")
    for i, ch in enumerate(value):
        if unicodedata.category(ch) in _INVISIBLE:
            raise InvalidInputError(f"{what} {value!r} has an invisible or control character "
                                    f"U+{ord(ch):04X} at position {i}; use visible characters only")
    return value


def check_name(value: Any, what: str) -> str | None:
    """An optional display name (speaker, first or last name, email): one line of visible text."""
    if value is None:
        return None
    check_text(value, what, max_chars=MAX_NAME_CHARS)
    bad = next((ch for ch in value if unicodedata.category(ch) in ("Cc", "Zl", "Zp")), None)
    if bad is not None:
        raise InvalidInputError(f"{what} {value!r} has a control character U+{ord(bad):04X}; "
                                "a name must be one line of text")
    return value


def check_role(value: Any, what: str = "role") -> Role:
    """A message role: user, assistant, system or tool (or a Role)."""
    from .models import Role

    try:
        return Role(value)
    except (ValueError, TypeError):
        raise InvalidInputError(f"{what} must be one of {[r.value for r in Role]}, got {value!r}") from None


def check_json_value(value: Any, what: str, *, depth: int = MAX_DEPTH) -> Any:
    """Metadata: JSON-safe values only (str keys, finite numbers, 64-bit ints), not circular, not too deep."""
    _walk(value, what, depth, set())
    return value


def _walk(value: Any, where: str, depth: int, ancestors: set[int]) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        check_text(value, where)
        return
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise InvalidInputError(f"{where} is an integer outside 64 bits; store it as a string")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"{where} is {value!r}, which JSON cannot hold; use a finite number or null")
        return
    if not isinstance(value, (Mapping, list, tuple)):
        raise InvalidInputError(f"{where} has a {type(value).__name__}; only JSON values (str, int, float, bool, "
                                "None, list, dict) can be stored")
    if id(value) in ancestors:
        raise InvalidInputError(f"{where} contains itself (circular); pass a tree of plain values")
    if depth <= 0:
        raise InvalidInputError(f"{where} is nested more than {MAX_DEPTH} levels deep; flatten it")
    ancestors.add(id(value))
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"{where} has a key {key!r} of type {type(key).__name__}; keys must be "
                                        "strings")
            check_text(key, f"{where} key")
            _walk(item, f"{where}[{key[:40]!r}]", depth - 1, ancestors)
    else:
        for i, item in enumerate(value):
            _walk(item, f"{where}[{i}]", depth - 1, ancestors)
    ancestors.discard(id(value))


def check_metadata(value: Any, what: str = "metadata") -> dict[str, Any]:
    """A metadata dict (None means empty) of JSON values."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{what} must be a dict, got {type(value).__name__}")
    check_json_value(value, what)
    return dict(value)


def check_json_data(data: Any, what: str = "data") -> str:
    """A JSON event, as a dict or a JSON object's text; returns the text to store."""
    if isinstance(data, Mapping):
        try:
            check_json_value(data, what)
        except InvalidInputError as exc:
            raise InvalidJSONError(exc.message) from None
        return json.dumps(data, ensure_ascii=False)
    if not isinstance(data, str):
        raise InvalidJSONError(f"json {what} must be a JSON object as a string or dict, got {type(data).__name__}")
    check_text(data, what)
    try:
        parsed = json.loads(data)
    except json.JSONDecodeError as exc:
        raise InvalidJSONError(f"{what} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") \
            from exc
    except RecursionError:
        raise InvalidJSONError(f"{what} is nested too deeply to parse; flatten it "
                               f"(at most {MAX_DEPTH} levels)") from None
    if not isinstance(parsed, dict):
        raise InvalidJSONError(f"json {what} must be an object ({{...}}), got {type(parsed).__name__}")
    try:
        check_json_value(parsed, what)
    except InvalidInputError as exc:
        raise InvalidJSONError(exc.message) from None
    return data


def check_time(value: Any, what: str) -> datetime:
    """A timestamp for a new record: RFC 3339 or aware datetime, in UTC, between years 1000 and 9998."""
    when = parse_ts(value, field=what)
    if not MIN_TIME <= when < MAX_TIME:
        raise InvalidTimestampError(f"{what} {when.isoformat()} is outside the supported range "
                                    f"{MIN_TIME:%Y-%m-%d} to 9998-12-31 (UTC)")
    return when


def _whole(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(f"{what} must be a whole number from {low:,} to {high:,}, got {value!r}")
    return value


def check_limit(value: Any, what: str = "limit", high: int = MAX_LIMIT) -> int:
    """A page size: an int (not a bool, not a string) from 1 to ``high``."""
    return _whole(value, what, 1, high)


def check_offset(value: Any, what: str = "offset") -> int:
    """A page start: an int from 0."""
    return _whole(value, what, 0, MAX_OFFSET)


def check_count(value: Any, what: str) -> int | None:
    """An optional count such as ``last``: None, or an int from 1."""
    return None if value is None else _whole(value, what, 1, MAX_LIMIT)


def check_token_budget(value: Any) -> int | None:
    """None (the configured default) or a whole number of tokens the block may use."""
    if value is None:
        return None
    return _whole(value, "token_budget", MIN_TOKEN_BUDGET, MAX_TOKEN_BUDGET)


def check_filters(filters: Any) -> SearchFilters | None:
    """Search filters (a SearchFilters or a dict of its fields) with every time aware and in UTC."""
    from .retrieval.search import SearchFilters

    if filters is None:
        return None
    if isinstance(filters, Mapping):
        data = dict(filters)
    elif isinstance(filters, SearchFilters):
        data = filters.model_dump(exclude_unset=True)
    else:
        raise InvalidInputError(f"filters must be a SearchFilters or a dict, got {type(filters).__name__}")
    for key in ("as_of", "since", "until"):
        if data.get(key) is not None:
            data[key] = parse_ts(data[key], field=f"filters.{key}")
    for key in ("relations", "entity_types"):
        items = data.get(key)
        if items is not None:
            if isinstance(items, str) or not isinstance(items, (list, tuple)):
                raise InvalidInputError(f"filters.{key} must be a list of strings, got {items!r}")
            for i, item in enumerate(items):
                check_text(item, f"filters.{key}[{i}]")
    if data.get("thread_id") is not None:
        check_id(data["thread_id"], "filters.thread_id")
    try:
        return SearchFilters(**data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ())) or "value"
        raise InvalidInputError(f"bad search filters: {loc}: {first.get('msg')} (got {first.get('input')!r})") \
            from None


def check_message(data: Any, what: str) -> Message:
    """A Message, or a dict of its fields, validated afresh (a Message changed after it was built included)."""
    from .models import Message

    if isinstance(data, Message):
        data = {k: getattr(data, k) for k in type(data).model_fields}
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{what}: each message must be a Message or a dict, got {type(data).__name__}")
    return Message(**data)


def check_query(query: Any, template_id: Any = None) -> str:
    """A context or search query (any text, even empty), and a template id if one is named."""
    if template_id is not None:
        check_id(template_id, "template_id")
    return check_text(query, "query")


def check_template(template_id: Any, template: Any) -> None:
    """A new or updated context template: a clean id and text whose placeholders parse."""
    from .context.templates import parse_template

    check_new_id(template_id, "template_id")
    check_text(template, "template", max_chars=100_000)
    parse_template(template)


def check_args(**args: Any) -> None:
    """Check the keyword arguments of a list or search call, each by its name (one call per API method)."""
    from .models import EpisodeSource, EpisodeStatus

    for name, value in args.items():
        if name == "limit":
            check_limit(value)
        elif name == "search_limit":
            check_limit(value, "limit", high=1000)
        elif name == "offset":
            check_offset(value)
        elif name == "last":
            check_count(value, name)
        elif value is None:
            continue
        elif name == "timeout":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise InvalidInputError(f"timeout must be None or a number of seconds from 0, got {value!r}")
        elif name in ("as_of", "since", "until"):
            parse_ts(value, field=name)
        elif name == "source" and value not in {s.value for s in EpisodeSource}:
            raise InvalidInputError(f"source must be one of {[s.value for s in EpisodeSource]}, got {value!r}")
        elif name == "status" and value not in {s.value for s in EpisodeStatus}:
            raise InvalidInputError(f"status must be one of {[s.value for s in EpisodeStatus]}, got {value!r}")
        elif name in ("user_id", "thread_id", "uuid", "episode_uuid", "template_id"):
            check_id(value, name)
        else:
            check_text(value, name)


def check_home(value: Any) -> Path:
    """A memory home given as a path (str or os.PathLike): non-empty, no NUL byte."""
    from .errors import ConfigError

    if not isinstance(value, (str, os.PathLike)):
        raise ConfigError(f"home must be a path (str or pathlib.Path), got {type(value).__name__}")
    text = os.fspath(value)
    if not isinstance(text, str) or not text.strip() or "\0" in text:
        raise ConfigError(f"home {text!r} is not a usable directory path; pass a non-empty path without NUL bytes")
    return Path(text)
