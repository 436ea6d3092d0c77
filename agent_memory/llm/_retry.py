"""Retry policy for provider calls (pure): retry-after headers, backoff, and telling errors apart."""

from __future__ import annotations

import email.utils
import random
import re
import time
from typing import Any

__all__ = ["BACKOFF_BASE", "BACKOFF_CAP", "MAX_RETRY_AFTER", "backoff", "describe", "rejects_json_schema",
           "retry_after"]

BACKOFF_BASE, BACKOFF_CAP, MAX_RETRY_AFTER = 0.5, 20.0, 120.0
_SCHEMA_REJECTED = re.compile(r"response_format|json_schema", re.IGNORECASE)


def rejects_json_schema(status: int, exc: Any) -> bool:
    """llama.cpp answers 500 to json_schema; others answer 400/422 naming response_format."""
    return status == 500 or (status in (400, 422) and bool(_SCHEMA_REJECTED.search(str(exc))))


def retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), if present."""
    for header, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(header) if headers is not None else None
        if value is None:
            continue
        try:
            return max(0.0, float(value) / scale)
        except ValueError:
            when = _http_date(value) if scale == 1.0 else None
            if when is not None:
                return max(0.0, when - time.time())
    return None


def _http_date(value: str) -> float | None:
    """An HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT") as a POSIX timestamp, or None."""
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def backoff(retries: int) -> float:
    """Exponential backoff with jitter: 0.5 s, 1 s, 2 s, ... capped at 20 s, times 0.5-1."""
    return float(min(BACKOFF_CAP, BACKOFF_BASE * 2.0**retries) * random.uniform(0.5, 1.0))


def describe(exc: Exception) -> str:
    """A one-line description of an SDK error: class, status and the provider's message."""
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    text = str(message or getattr(exc, "message", None) or exc)[:500]
    return f"{type(exc).__name__}{f' {status}' if status else ''}: {text}"
