"""The times a question is about, read from its text (pure): calendar dates, months, years, and,
when the question has a date of its own, relative phrases ("last week", "two weeks ago").

Every window is a UTC ``[start, end)``. Memory dates a record by when it was said, and people
tell of things on the day or after: a window reaches ``MENTION_SLACK`` past the time it names
("in June" also holds "we went camping last month" said on 3 July).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = ["MENTION_SLACK", "event_anchor", "query_dates"]

MENTION_SLACK = timedelta(days=7)
_DAY = timedelta(days=1)

_MONTH_NAMES = "january february march april may june july august september october november december".split()
_MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)} | {m[:3]: i + 1 for i, m in enumerate(_MONTH_NAMES)}
_MON = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_NUMBERS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten".split())} | {"a": 1}
_N = r"(\d{1,2}|a|one|two|three|four|five|six|seven|eight|nine|ten)"
_UNIT_DAYS = {"day": 1, "week": 7, "weekend": 7, "month": 31, "year": 365}

_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MON})\.?,?\s*(\d{{4}})\b", re.I)
_MONTH_DAY_YEAR = re.compile(rf"\b({_MON})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s*(\d{{4}})\b", re.I)
_ISO_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_MONTH_YEAR = re.compile(rf"\b({_MON})\.?,?\s+(\d{{4}})\b", re.I)
_YEAR = re.compile(r"\b(?:in|during|of)\s+(19\d\d|20\d\d)\b", re.I)
# "the week before <date>", "two weeks before <date>", "the Sunday before <date>": that span before it
_WEEKDAY = "|".join(_WEEKDAYS)
_BEFORE = re.compile(rf"\b(?:(?:the|last)\s+)?(?:{_N}\s+)?(day|week|weekend|month|{_WEEKDAY})s?\s+before\s*$", re.I)
_AGO = re.compile(rf"\b{_N}\s+(day|week|month|year)s?\s+ago\b", re.I)
_LAST = re.compile(rf"\b(?:last|past|previous)\s+(?:{_N}\s+)?(day|week|weekend|month|year|{_WEEKDAY})s?\b",
                   re.I)
_YESTERDAY = re.compile(r"\byesterday\b", re.I)
_ANY_DAY = datetime(2000, 6, 15, tzinfo=timezone.utc)
_EVENT = re.compile(r"(?<=\w)[ \t,]+(before|after|since)[ \t]+(.+?)[ \t]*[?.!]*$", re.I | re.M)
_BARE_MONTH = re.compile(rf"\b(?:in|during|of)\s+(?:early\s+|late\s+|mid-?\s*)?({_MON})\b(?!\s*\d)", re.I)


def _num(text: str | None) -> int:
    if not text:
        return 1
    return int(text) if text.isdigit() else _NUMBERS.get(text.lower(), 1)


def _month(y: int, mo: int) -> tuple[datetime, datetime]:
    end = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=timezone.utc)
    return datetime(y, mo, 1, tzinfo=timezone.utc), end


def _day(y: int, mo: int, d: int) -> datetime | None:
    try:
        return datetime(y, mo, d, tzinfo=timezone.utc)
    except ValueError:
        return None


def query_dates(text: str, now: datetime | None = None) -> list[tuple[datetime, datetime]]:
    """UTC ``[start, end)`` windows of the times ``text`` names.

    A day is padded by a day before (time zones) and ``MENTION_SLACK``-free two days after; a month
    or a year reaches ``MENTION_SLACK`` past its end. ``now`` (the question's own date) lets relative
    phrases count: "yesterday", "last week", "last Tuesday", "two weeks ago", "in March" (the latest
    March up to ``now``). Without it they are not read.
    """
    out: list[tuple[datetime, datetime]] = []
    spans: list[tuple[int, int]] = []  # text positions already read as a day
    days: list[tuple[datetime, int, int]] = []
    for rx, order in ((_DAY_MONTH_YEAR, (3, 2, 1)), (_MONTH_DAY_YEAR, (3, 1, 2)), (_ISO_DAY, (1, 2, 3))):
        for m in rx.finditer(text):
            y, mo, d = (m.group(i) for i in order)
            month = int(mo) if mo.isdigit() else _MONTHS[mo.lower()]
            day = _day(int(y), month, int(d))
            if day is not None:
                days.append((day, m.start(), m.end()))
            elif 1 <= month <= 12:  # no such day ("31 February"): the month is still meant
                start, end = _month(int(y), month)
                out.append((start, end + MENTION_SLACK))
            spans.append((m.start(), m.end()))
    for day, start_pos, _ in days:
        before = _BEFORE.search(text[:start_pos])
        if before:
            unit = before.group(2).lower()
            span = 8 if unit in _WEEKDAYS else _UNIT_DAYS[unit] * _num(before.group(1)) + 2
            out.append((day - timedelta(days=span), day + 2 * _DAY))
        else:
            out.append((day - _DAY, day + 2 * _DAY))
    if not days:
        for m in _MONTH_YEAR.finditer(text):
            if any(a <= m.start() < b for a, b in spans):
                continue
            y, mo = int(m.group(2)), _MONTHS[m.group(1).lower()]
            if 1 <= y <= 9998:
                start, end = _month(y, mo)
                out.append((start, end + MENTION_SLACK))
                spans.append((m.start(), m.end()))
        if not out:
            for m in _YEAR.finditer(text):
                y = int(m.group(1))
                out.append((datetime(y, 1, 1, tzinfo=timezone.utc),
                            datetime(y + 1, 1, 1, tzinfo=timezone.utc) + MENTION_SLACK))
    if now is not None:
        out += _relative(text, now, spans)
    return out


def _relative(text: str, now: datetime, spans: list[tuple[int, int]]) -> list[tuple[datetime, datetime]]:
    """Windows of the phrases that count back from ``now``."""
    out: list[tuple[datetime, datetime]] = []
    end = now + _DAY
    if _YESTERDAY.search(text):
        out.append((now - 2 * _DAY, end))
    for m in _AGO.finditer(text):
        days = _UNIT_DAYS[m.group(2).lower()]
        centre = now - timedelta(days=days * _num(m.group(1)))
        out.append((centre - timedelta(days=days), min(centre + timedelta(days=days) + MENTION_SLACK, end)))
    for m in _LAST.finditer(text):
        if re.match(r"\s*before\b", text[m.end():], re.I):
            continue  # "the week before <date>": read with the date
        unit = m.group(2).lower()
        if unit in _WEEKDAYS:
            out.append((now - 8 * _DAY, end))
        elif unit == "year" and not m.group(1):  # "last year": the calendar year before
            y = now.year - 1
            out.append((datetime(y, 1, 1, tzinfo=timezone.utc),
                        datetime(y + 1, 1, 1, tzinfo=timezone.utc) + MENTION_SLACK))
        else:
            span = _UNIT_DAYS[unit] * _num(m.group(1))
            out.append((now - timedelta(days=2 * span if unit in ("week", "weekend") else span), end))
    for m in _BARE_MONTH.finditer(text):
        if any(a <= m.start(1) < b for a, b in spans):
            continue
        mo = _MONTHS[m.group(1).lower()]
        y = now.year if mo <= now.month else now.year - 1
        start, stop = _month(y, mo)
        out.append((start, min(stop + MENTION_SLACK, end)))
    return out


def event_anchor(text: str) -> tuple[str, str] | None:
    """("before" | "after", the event) of a question that dates by another event ("What did I buy before
    getting the Air Fryer?", "How did she feel after the accident?"); None when the phrase names a
    calendar time ("the week before 3 June", read by ``query_dates``) or opens the question. Each line is
    read on its own, the first first (a thread's query is its latest messages, newest first)."""
    m = _EVENT.search(text)
    if m is None:
        return None
    event = m.group(2)
    # any date serves to tell whether the clause names a time ("before last week", "after May 2023")
    if not re.search(r"[^\W\d_]{3,}", event) or query_dates(event, _ANY_DAY):
        return None
    return ("before" if m.group(1).lower() == "before" else "after"), event
