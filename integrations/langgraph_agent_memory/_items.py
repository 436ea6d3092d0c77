"""How a LangGraph store item is written as an episode, who owns it, and which items a filter keeps.

Framework-free helpers of ``AgentMemoryStore`` (see its module docstring for the user-facing rules).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

from agent_memory.errors import ConfigError, InvalidInputError

__all__ = [
    "DEFAULT_USER_NAMESPACE",
    "TEXT_FIELDS",
    "Encoded",
    "OwnerRule",
    "decode",
    "encode",
    "matches_filter",
    "owner_rule",
    "parse_index",
]

TEXT_FIELDS = ("text", "content", "data", "memory")
"""A value whose first of these keys holds text is a *text* memory: the text is what is remembered."""

DEFAULT_USER_NAMESPACE: tuple[str, ...] = ("memories", "{user_id}")
"""LangGraph's and LangMem's documented layout: ``store.put(("memories", user_id), key, value)``."""

_PLACEHOLDER = "{user_id}"
_SEGMENT = r"[^.\[\]*$]+(?:\[(?:\*|\d+)\])?"
_PATH = re.compile(rf"^{_SEGMENT}(?:\.{_SEGMENT})*$")
_PART = re.compile(r"^([^\[]+)(?:\[(\*|\d+)\])?$")


# -- values ------------------------------------------------------------------------------------
class Encoded(NamedTuple):
    """An item value as an episode: ``type`` and ``data`` for ``graph.add``, ``shape`` to rebuild it."""

    type: str
    data: str
    shape: dict[str, Any]


def _path_values(value: Any, path: str) -> list[Any]:
    """The values at a path: dotted keys, ``key[*]`` (every element) or ``key[2]`` (one element)."""
    found = [value]
    for part in path.split("."):
        m = _PART.match(part)
        key, pick = (m.group(1), m.group(2)) if m else (part, None)
        step = [v.get(key) for v in found if isinstance(v, Mapping)]
        if pick == "*":
            step = [x for v in step if isinstance(v, list) for x in v]
        elif pick is not None:
            step = [v[int(pick)] for v in step if isinstance(v, list) and int(pick) < len(v)]
        found = step
    return found


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _texts(v)]
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _texts(v)]
    return [] if value is None else [json.dumps(value)]


def encode(value: Any, fields: Sequence[str] | None) -> Encoded:
    """The episode for a value.

    A plain string, or a dict whose first text field (``TEXT_FIELDS``) is non-blank text, is
    ingested as text (as if said in a message); with ``fields`` (index paths), the text of those
    fields is; any other value is a JSON episode (its structure is what is remembered).
    Raises InvalidInputError for a value that is not JSON-serialisable.
    """
    try:
        json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"store values must be JSON-serialisable: {exc}") from exc
    if isinstance(value, str):
        return Encoded("text", value, {"plain": True})
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"store values must be a dict (or a string), got {type(value).__name__}")
    value = dict(value)
    if fields and fields != ["$"]:
        text = "\n".join(t for path in fields for v in _path_values(value, path) for t in _texts(v))
        if text.strip():
            return Encoded("text", text, {"value": value})
    field = next((f for f in TEXT_FIELDS if f in value), None)
    if field is not None and isinstance(value[field], str) and value[field].strip():
        return Encoded("text", value[field], {"text_field": field, "value": {**value, field: None}})
    return Encoded("json", json.dumps(value, ensure_ascii=False), {})


def decode(content: str, shape: Mapping[str, Any]) -> Any:
    """The value an episode holds (the inverse of ``encode``; key order kept)."""
    if shape.get("plain"):
        return content
    if "text_field" in shape:
        return {**shape["value"], shape["text_field"]: content}
    if "value" in shape:
        return shape["value"]
    return json.loads(content)


def parse_index(index: Any, where: str) -> list[str] | Literal[False] | None:
    """Index paths as given to ``put(index=...)`` or in the store's ``index`` config, checked.

    ``None``: the store default; ``False``: not searchable by query; a list of paths: the fields
    whose text is remembered and searched. Paths are ``"$"`` (the whole value) or dotted keys
    (``"profile.bio"``); other JSONPath forms are refused.
    """
    if index is None or index is False:
        return None if index is None else False
    if isinstance(index, str) or not isinstance(index, Sequence):
        raise InvalidInputError(f"{where} must be False or a list of field paths, got {index!r}")
    paths = list(index)
    for p in paths:
        if not isinstance(p, str) or not (p == "$" or _PATH.match(p)):
            raise InvalidInputError(
                f"{where}: unsupported index path {p!r}; use '$' (the whole value), dotted keys such as "
                "'text' or 'profile.bio', or array steps such as 'chapters[*].content'")
    return paths


# -- ownership ---------------------------------------------------------------------------------
OwnerRule = Callable[[tuple[str, ...], str], "str | None"]


def owner_rule(user_namespace: Any) -> tuple[OwnerRule, list[tuple[str, ...]]]:
    """A function ``(namespace, key) -> user id or None`` and the templates it reads (for search)."""
    if callable(user_namespace):
        return user_namespace, []
    if user_namespace is None:
        return (lambda namespace, key: None), []
    templates = [user_namespace] if user_namespace and isinstance(user_namespace[0], str) else list(user_namespace)
    checked: list[tuple[str, ...]] = []
    for t in templates:
        t = tuple(t)
        if not t or any(not isinstance(label, str) for label in t) or t.count(_PLACEHOLDER) != 1:
            raise ConfigError(f"user_namespace templates are tuples of labels with exactly one '{_PLACEHOLDER}', "
                              f"e.g. ('memories', '{{user_id}}'); got {t!r}")
        checked.append(t)

    def rule(namespace: tuple[str, ...], key: str) -> str | None:
        for t in checked:
            if len(namespace) >= len(t) and all(p in (_PLACEHOLDER, n) for p, n in zip(t, namespace)):
                return namespace[t.index(_PLACEHOLDER)]
        return None

    return rule, checked


def prefix_owner(templates: Sequence[tuple[str, ...]], prefix: tuple[str, ...]) -> str | None:
    """The one user every namespace under ``prefix`` belongs to, if a template fixes it."""
    for t in templates:
        i = t.index(_PLACEHOLDER)
        if len(prefix) > i and all(p in (_PLACEHOLDER, n) for p, n in zip(t, prefix)):
            return prefix[i]
    return None


# -- filters (the semantics of InMemoryStore, written for this store) -----------------------------
def _apply_operator(value: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return bool(value == operand)
    if operator == "$ne":
        return bool(value != operand)
    if operator in ("$gt", "$gte", "$lt", "$lte"):
        if value is None:
            return False
        try:
            left, right = float(value), float(operand)
        except (TypeError, ValueError):
            return False
        outcomes = {"$gt": left > right, "$gte": left >= right, "$lt": left < right, "$lte": left <= right}
        return outcomes[operator]
    raise ValueError(f"Unsupported operator: {operator}")


def _compare(value: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        if any(k.startswith("$") for k in expected):
            return all(_apply_operator(value, op, operand) for op, operand in expected.items())
        return isinstance(value, dict) and all(_compare(value.get(k), v) for k, v in expected.items())
    if isinstance(expected, (list, tuple)):
        return (isinstance(value, (list, tuple)) and len(value) == len(expected)
                and all(_compare(a, b) for a, b in zip(value, expected, strict=True)))
    return bool(value == expected)


def matches_filter(value: Any, flt: Mapping[str, Any] | None) -> bool:
    """Whether an item's value passes a LangGraph store filter (JSONB-like, as ``InMemoryStore``)."""
    if not flt:
        return True
    if not isinstance(value, Mapping):
        return False
    return all(_compare(value.get(k), v) for k, v in flt.items())
