"""Date helpers shared by the extractors: read a short date phrase against a reference time.

dateparser is imported lazily (on first use) and only ever sees short date *spans* (the DATE/TIME
entities spaCy found, or a JSON timestamp value), never whole messages: its ``search_dates`` reads
"we" as Wednesday. Every datetime returned here is timezone-aware UTC.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from .._time import parse_ts
from ..errors import InvalidTimestampError, MissingDependencyError

__all__ = [
    "is_future",
    "looks_like_point_in_time",
    "parse_date_span",
    "parse_timestamp",
    "to_aware_utc",
    "to_naive_utc",
]

_MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|july"
    "|august|september|october|november|december"
)
_WEEKDAYS = (
    "mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
)
# A span must name a point in time: a relative anchor, a month, a weekday or a number.
_POINT_MARKERS = re.compile(
    rf"\b(ago|last|yesterday|today|tonight|tomorrow|this|next|earlier|{_MONTHS}|{_WEEKDAYS})\b|\d",
    re.IGNORECASE,
)
# Spans that are durations, ages, habits or vague periods rather than points.
_NOT_A_POINT = re.compile(
    r"\b(old|every|each|daily|weekly|monthly|yearly|annually|long|decades?|century|centuries|"
    r"\d{2,4}'?s|few|couple|several|some|many|past|recent|recently|lately)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"^[\d\s.,:/-]+$")  # digits and separators only: a year is read by _BARE_YEAR
_BARE_YEAR = re.compile(
    r"^(?:(?:in|since|during|around|by)\s+)?(?:the\s+year\s+)?((?:19|20)\d\d)$", re.IGNORECASE
)

_UNIT = re.compile(r"\b(years?|months?|weeks?|days?|hours?|minutes?|weekends?)\b", re.IGNORECASE)
_RELATIVE = re.compile(r"\b(ago|last|next|this|yesterday|today|tonight|tomorrow|earlier)\b", re.IGNORECASE)

_lock = threading.Lock()


def to_naive_utc(value: datetime) -> datetime:
    """An aware datetime as naive UTC (what dateparser's RELATIVE_BASE expects)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def to_aware_utc(value: datetime) -> datetime:
    """A datetime as aware UTC; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def looks_like_point_in_time(text: str) -> bool:
    """True when a date phrase names a moment ("last week", "in 2019"), not a duration or habit."""
    stripped = text.strip()
    if not stripped or len(stripped) > 40:
        return False
    if _NUMBER.match(stripped) and not _BARE_YEAR.match(stripped) and not re.search(r"\d[./-]\d", stripped):
        return False  # "1005", "37": a count spaCy tagged DATE, not a moment (and dateparser reads it as a year)
    if _UNIT.search(stripped) and not _RELATIVE.search(stripped):
        return False  # "5 years", "two weeks": a duration
    return bool(_POINT_MARKERS.search(stripped)) and not _NOT_A_POINT.search(stripped)


def is_future(value: datetime, reference_time: datetime, *, slack: timedelta = timedelta(days=1)) -> bool:
    """True when ``value`` lies more than ``slack`` after the reference time (a plan, not a fact)."""
    return to_aware_utc(value) > to_aware_utc(reference_time) + slack


def _dateparser_class() -> Any:
    """The DateDataParser class, imported on first use."""
    try:
        from dateparser import DateDataParser
    except ImportError as exc:  # pragma: no cover - dateparser is a core dependency
        raise MissingDependencyError(
            "dateparser is needed to read dates; install it with `pip install dateparser`"
        ) from exc
    return DateDataParser


@lru_cache(maxsize=128)
def _parser(base: datetime, prefer: str, first_day: bool) -> Any:
    """A DateDataParser for one reference time and preference (its settings are cached with it)."""
    settings = {
        "RELATIVE_BASE": base,
        "PREFER_DATES_FROM": prefer,
        "PREFER_DAY_OF_MONTH": "first" if first_day else "current",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    return _dateparser_class()(languages=["en"], settings=settings)


@lru_cache(maxsize=4096)
def _parse_cached(text: str, base: datetime, prefer: str) -> datetime | None:
    year = _BARE_YEAR.match(text)
    if year:
        return datetime(int(year.group(1)), 1, 1, tzinfo=timezone.utc)
    # "May 2019" means its first day; "10 years ago" keeps the reference's day of the month.
    parser = _parser(base, prefer, not _RELATIVE.search(text))
    with _lock:  # dateparser's lazily loaded language data is shared between parsers
        try:
            data = parser.get_date_data(text)
        except Exception:  # dateparser raises assorted errors on odd input; a date is optional
            return None
    value = getattr(data, "date_obj", None)
    return to_aware_utc(value) if isinstance(value, datetime) else None


def parse_date_span(text: str, reference_time: datetime, *, prefer_past: bool = False) -> datetime | None:
    """Read a short date phrase ("last week", "in 2019") relative to ``reference_time``.

    Returns aware UTC, or None when the phrase is not a point in time or cannot be read
    ("this weekend", "for three years", "32 years old").
    """
    cleaned = re.sub(r"\s+", " ", text.strip())
    if not looks_like_point_in_time(cleaned):
        return None
    base = to_naive_utc(reference_time).replace(microsecond=0)
    return _parse_cached(cleaned.lower(), base, "past" if prefer_past else "current_period")


def parse_timestamp(value: Any, reference_time: datetime | None = None) -> datetime | None:
    """A JSON timestamp value as aware UTC: RFC 3339, epoch seconds/milliseconds, else dateparser."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        seconds = float(value) / 1000.0 if abs(value) > 1e11 else float(value)
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    try:
        return parse_ts(value)
    except InvalidTimestampError:
        pass
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
        except ValueError:
            return None
    base = to_naive_utc(reference_time or datetime.now(timezone.utc)).replace(microsecond=0)
    return _parse_cached(text.lower(), base, "current_period")
