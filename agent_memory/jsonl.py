"""Read and check a JSON Lines file of messages for ``agent-memory ingest``, before anything is stored.

Every line is checked first (its number and what is wrong are reported); then the file is checked
against the memory: a line may not write into a thread of another user, and a message already stored
(same id: the line's ``uuid``, else one derived from the line) is skipped, so a re-run is a no-op.
"""

from __future__ import annotations

import json
import uuid as _uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import AgentMemoryError, InvalidInputError, ThreadNotFoundError, UserNotFoundError
from .models import Message
from .validation import check_content, check_name, check_new_id

__all__ = ["USER_FIELDS", "Line", "Plan", "plan_ingest", "read_jsonl"]

MESSAGE_FIELDS = ("uuid", "role", "content", "name", "created_at", "metadata")
USER_FIELDS = ("first_name", "last_name", "email")
REQUIRED = ("user_id", "thread_id", "role", "content")
_ALLOWED = frozenset({*REQUIRED, *MESSAGE_FIELDS, *USER_FIELDS})
_NS = _uuid.UUID("0b6c2f4e-5d1a-4f7e-8a3b-9c2d1e0f4a57")


@dataclass
class Line:
    """One checked line: where it is, whose thread, the message, and user fields it gives."""

    number: int
    user_id: str
    thread_id: str
    message: Message
    user_fields: dict[str, str] = field(default_factory=dict)
    given_id: bool = False


def _fail(path: Path, number: int, what: str) -> InvalidInputError:
    return InvalidInputError(f"{path}:{number}: {what}; nothing was stored", line=number)


def read_jsonl(path: Path, *, max_content_chars: int) -> list[Line]:
    """Every non-blank line of ``path``, checked; raises InvalidInputError naming the first bad line."""
    if not path.exists():
        raise InvalidInputError(f"{path} does not exist; give a JSON Lines file")
    if path.is_dir():
        raise InvalidInputError(f"{path} is a directory; give a JSON Lines file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"{path} cannot be read: {exc.strerror or exc}") from exc
    lines: list[Line] = []
    seen_ids: dict[str, int] = {}
    owners: dict[str, tuple[str, int]] = {}
    occurrences: Counter[str] = Counter()
    for number, chunk in enumerate(raw.split(b"\n"), start=1):
        if number == 1 and chunk.startswith(b"\xef\xbb\xbf"):
            chunk = chunk[3:]  # a UTF-8 byte order mark
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail(path, number, f"not valid UTF-8 (byte {chunk[exc.start]:#04x} at column {exc.start + 1}); "
                                      "save the file as UTF-8") from None
        if not text.strip():
            continue
        line = _parse(path, number, text, max_content_chars)
        owner = owners.setdefault(line.thread_id, (line.user_id, number))
        if owner[0] != line.user_id:
            raise _fail(path, number, f"thread {line.thread_id!r} belongs to user {owner[0]!r} (line {owner[1]}) but "
                                      f"this line names user {line.user_id!r}; a thread has one user")
        if not line.given_id:  # no id given: derive one from the line, so that a re-run matches it
            key = json.dumps([line.user_id, line.thread_id, line.message.role.value, line.message.name,
                              line.message.content, text_time(line.message)], ensure_ascii=False)
            occurrences[key] += 1
            line.message = line.message.model_copy(update={"uuid": str(_uuid.uuid5(_NS, f"{key}#{occurrences[key]}"))})
        first = seen_ids.setdefault(line.message.uuid, number)
        if first != number:
            raise _fail(path, number, f"uuid {line.message.uuid!r} is also on line {first}; ids must be unique")
        lines.append(line)
    _check_users(path, lines)
    return lines


def text_time(message: Message) -> str | None:
    """The message's time as text, for the derived id."""
    return message.created_at.isoformat() if message.created_at else None


def _parse(path: Path, number: int, text: str, max_content_chars: int) -> Line:
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(path, number, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise _fail(path, number, "JSON nested too deeply to read; flatten the metadata") from None
    if not isinstance(row, dict):
        raise _fail(path, number, f"expected a JSON object ({{...}}) with {', '.join(REQUIRED)}, "
                                  f"got {type(row).__name__ if row is not None else 'null'}")
    missing = [k for k in REQUIRED if k not in row]
    if missing:
        raise _fail(path, number, f"missing {', '.join(missing)}")
    unknown = sorted(set(row) - _ALLOWED)
    if unknown:
        raise _fail(path, number, f"unknown field {', '.join(map(repr, unknown))}; a line may have "
                                  f"{', '.join(sorted(_ALLOWED))}")
    try:
        user_id = check_new_id(row["user_id"], "user_id")
        thread_id = check_new_id(row["thread_id"], "thread_id")
        check_content(row["content"], "content", max_content_chars)
        fields = {k: row[k] for k in MESSAGE_FIELDS if k in row and row[k] is not None}
        message = Message(**fields)
        user_fields = {k: check_name(row[k], k) for k in USER_FIELDS if row.get(k) is not None}
    except AgentMemoryError as exc:
        raise _fail(path, number, str(exc)) from None
    return Line(number, user_id, thread_id, message, user_fields, given_id="uuid" in fields)  # type: ignore[arg-type]


def _check_users(path: Path, lines: list[Line]) -> None:
    """Names given for one user must agree across lines."""
    given: dict[tuple[str, str], tuple[str, int]] = {}
    for line in lines:
        for key, value in line.user_fields.items():
            first = given.setdefault((line.user_id, key), (value, line.number))
            if first[0] != value:
                raise _fail(path, line.number, f"user {line.user_id!r} has {key} {first[0]!r} on line {first[1]} "
                                               f"but {value!r} here")


@dataclass
class Plan:
    """What ingesting the file will do: users to create or name, threads to create, lines to store."""

    new_users: dict[str, dict[str, Any]] = field(default_factory=dict)
    named_users: dict[str, dict[str, Any]] = field(default_factory=dict)  # existing users gaining names
    new_threads: dict[str, str] = field(default_factory=dict)  # thread -> user
    todo: list[Line] = field(default_factory=list)
    skipped: int = 0


def plan_ingest(memory: Any, path: Path, lines: list[Line], names: dict[str, str]) -> Plan:
    """Check the lines against the memory (thread owners, names, stored ids) without writing anything.

    ``names``: first/last name or email for the file's single user (from the command line).
    """
    users = list(dict.fromkeys(line.user_id for line in lines))
    if names and len(users) > 1:
        raise InvalidInputError(f"--first-name/--last-name/--email name one user, but {path} has {len(users)} "
                                f"({', '.join(users[:5])}); put first_name/last_name on the lines instead")
    wanted: dict[str, dict[str, Any]] = {u: {} for u in users}
    for line in lines:
        wanted[line.user_id].update(line.user_fields)
    for uid in users:
        for key, value in names.items():
            if wanted[uid].setdefault(key, value) != value:
                raise InvalidInputError(f"--{key.replace('_', '-')} {value!r} disagrees with {key} "
                                        f"{wanted[uid][key]!r} in {path}")
    plan = Plan()
    for uid in users:
        try:
            user = memory.user.get(uid)
        except UserNotFoundError:
            plan.new_users[uid] = wanted[uid]
            continue
        gaining = {}
        for key, value in wanted[uid].items():
            current = getattr(user, key)
            if current is None:
                gaining[key] = value
            elif current != value:
                raise InvalidInputError(f"user {uid!r} is stored with {key} {current!r}, not {value!r}; change it "
                                        "with memory.user.update, or fix the file; nothing was stored")
        if gaining:
            plan.named_users[uid] = gaining
    stored: dict[str, Message] = {}
    first_line: dict[str, Line] = {}
    for line in lines:
        first_line.setdefault(line.thread_id, line)
    for tid, line in first_line.items():
        try:
            thread = memory.thread.get(tid)
        except ThreadNotFoundError:
            plan.new_threads[tid] = line.user_id
            continue
        if thread.user_id != line.user_id:
            raise InvalidInputError(f"{path}:{line.number}: thread {tid!r} belongs to another user, not "
                                    f"{line.user_id!r}; a line may only add to its own user's threads; "
                                    "nothing was stored")
        stored.update({m.uuid: m for m in memory.thread.get_messages(tid)})
    for line in lines:
        old = stored.get(line.message.uuid)
        if old is None:
            plan.todo.append(line)
        elif old.content == line.message.content and old.role == line.message.role:
            plan.skipped += 1
        else:
            raise InvalidInputError(f"{path}:{line.number}: uuid {line.message.uuid!r} is already stored with "
                                    "other content; give this message a new id; nothing was stored")
    return plan
