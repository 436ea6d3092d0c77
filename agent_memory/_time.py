"""Timestamps: strict RFC 3339 parsing and timezone-aware UTC everywhere."""

from __future__ import annotations

import re
import sys
from datetime import datetime, timezone

from .errors import InvalidTimestampError

__all__ = ["format_ts", "parse_ts", "to_utc", "utcnow"]

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def to_utc(value: datetime, *, field: str = "timestamp") -> datetime:
    """Convert an aware datetime to UTC; refuse naive ones, whose meaning is ambiguous."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidTimestampError(
            f"{field} {value.isoformat()!r} has no timezone; pass an aware datetime "
            "(e.g. datetime(..., tzinfo=timezone.utc)) or an RFC 3339 string like '2024-03-02T10:00:00Z'"
        )
    try:
        return value.astimezone(timezone.utc)
    except (OverflowError, ValueError) as exc:
        raise InvalidTimestampError(f"{field} {value.isoformat()!r} cannot be expressed in UTC ({exc}); "
                                    "use a date between years 1 and 9999 in UTC") from exc


def parse_ts(value: str | datetime, *, field: str = "timestamp") -> datetime:
    """Parse an RFC 3339 string (or take an aware datetime) and return it in UTC."""
    if isinstance(value, datetime):
        return to_utc(value, field=field)
    if not isinstance(value, str) or not _RFC3339.match(value.strip()):
        raise InvalidTimestampError(
            f"{field} {value!r} is not an RFC 3339 timestamp; use a form like "
            "'2024-03-02T10:00:00Z' or '2024-03-02T10:00:00+01:00'"
        )
    text = value.strip().replace("z", "Z").replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).astimezone(timezone.utc)
    except (ValueError, OverflowError) as exc:  # e.g. year 9999 with a negative offset is past year 9999 in UTC
        raise InvalidTimestampError(f"{field} {value!r} is not a valid date/time in UTC: {exc}") from exc


_READS_Z = sys.version_info >= (3, 11)  # fromisoformat reads a trailing Z as UTC from Python 3.11


def stored_ts(value: str) -> datetime:
    """Read back a timestamp ``format_ts`` wrote (fast path); anything else goes through ``parse_ts``."""
    if value.endswith("Z"):
        try:
            if _READS_Z:
                return datetime.fromisoformat(value)
            return datetime.fromisoformat(value[:-1]).replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    return parse_ts(value)


def format_ts(value: datetime | None) -> str | None:
    """Serialise for storage: RFC 3339 in UTC with microseconds, so strings sort by time."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
