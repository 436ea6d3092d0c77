"""JSON-schema and output helpers shared by LLM clients (pure, no I/O).

- :func:`response_schema` turns a pydantic model into a JSON schema that OpenAI's strict
  structured outputs accept (every property required, no extra properties, no defaults or
  titles), or says it cannot (free-form ``dict`` fields), in which case we send ``strict: false``.
- :func:`parse_output` validates a model's text answer, tolerating code fences and chatter
  around the JSON object, and raises :class:`InvalidOutput` with a short, quotable reason.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

__all__ = ["InvalidOutput", "describe_validation_error", "parse_output", "response_schema", "schema_text"]

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"^\s*```(?:json|JSON)?\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
_DROP_KEYS = ("title", "default")


class InvalidOutput(ValueError):
    """The model's text is not valid JSON for the schema; ``str()`` says why, briefly."""


def response_schema(schema: type[BaseModel]) -> tuple[dict[str, Any], bool]:
    """The JSON schema to send for ``schema`` and whether it is strict-compatible."""
    raw = schema.model_json_schema()
    strict = copy.deepcopy(raw)
    if _make_strict(strict):
        return strict, True
    return _strip(copy.deepcopy(raw)), False


def schema_text(schema: type[BaseModel]) -> str:
    """A compact JSON schema for prompts (json_object mode): no titles or defaults."""
    return json.dumps(response_schema(schema)[0], separators=(",", ":"), ensure_ascii=False)


def _strip(node: Any) -> Any:
    """Remove titles and defaults everywhere (they cost tokens and strict mode refuses defaults)."""
    if isinstance(node, dict):
        for key in _DROP_KEYS:
            if key in node and not isinstance(node[key], dict):
                node.pop(key)
        for value in node.values():
            _strip(value)
    elif isinstance(node, list):
        for value in node:
            _strip(value)
    return node


def _make_strict(node: Any) -> bool:
    """Make ``node`` strict in place; False when it holds a free-form object (a dict field)."""
    if isinstance(node, list):
        return all(_make_strict(item) for item in node)
    if not isinstance(node, dict):
        return True
    for key in _DROP_KEYS:
        if key in node and not isinstance(node[key], dict):
            node.pop(key)
    if isinstance(node.get("$ref"), str):  # strict mode refuses siblings of a $ref
        for key in [k for k in node if k != "$ref"]:
            node.pop(key)
        return True
    if node.get("type") == "object" or "properties" in node:
        extra = node.get("additionalProperties")
        if "properties" not in node or (extra not in (None, False)):
            return False
        node["additionalProperties"] = False
        node["required"] = list(node["properties"])
    return all(_make_strict(value) for key, value in node.items() if isinstance(value, (dict, list)))


def parse_output(text: str | None, schema: type[T]) -> T:
    """Validate a model's answer into ``schema``.

    Raises:
        InvalidOutput: empty answer, no JSON object, or fields that do not validate.
    """
    if text is None or not text.strip():
        raise InvalidOutput("the answer was empty")
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    try:
        return schema.model_validate_json(body)
    except ValidationError as exc:
        start, end = body.find("{"), body.rfind("}")
        if _is_json_error(exc) and 0 <= start < end and (start, end) != (0, len(body) - 1):
            try:
                return schema.model_validate_json(body[start : end + 1])
            except ValidationError:
                pass
        raise InvalidOutput(describe_validation_error(exc)) from exc


def _is_json_error(exc: ValidationError) -> bool:
    return any(err.get("type") == "json_invalid" for err in exc.errors())


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    """'messages.0.facts.1.relation: Field required; ...' for the first ``limit`` errors."""
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "(root)"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    more = len(exc.errors()) - limit
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)
