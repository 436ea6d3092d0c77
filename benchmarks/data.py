"""Load LoCoMo and LongMemEval into one shape: histories of dated sessions of turns, and questions.

A ``History`` is what one memory user is given (a LoCoMo conversation, or a LongMemEval
question's haystack); its questions name their evidence as turn ids of that history.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

__all__ = [
    "LOCOMO_CATEGORIES",
    "History",
    "Question",
    "Session",
    "Turn",
    "default_paths",
    "load_locomo",
    "load_longmemeval",
    "parse_evidence",
    "parse_locomo_date",
    "parse_longmemeval_date",
]

# Category numbers as in LoCoMo's own scoring code.
LOCOMO_CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
_EVIDENCE = re.compile(r"D:?(\d+):(\d+)")


@dataclass(frozen=True)
class Turn:
    """One utterance: ``tid`` is the benchmark's own turn id (LoCoMo ``dia_id``)."""

    tid: str
    role: str  # "user" or "assistant"
    speaker: str | None
    text: str


@dataclass
class Session:
    sid: str
    date: datetime
    turns: list[Turn]


@dataclass
class Question:
    qid: str
    text: str
    date: datetime
    evidence: tuple[str, ...]
    category: str


@dataclass
class History:
    """One user's whole history and the questions asked against it."""

    hid: str
    sessions: list[Session]
    questions: list[Question] = field(default_factory=list)

    @property
    def turns(self) -> list[Turn]:
        return [t for s in self.sessions for t in s.turns]


def default_paths(root: Path | None = None) -> dict[str, Path]:
    """Where the shared dev sets live: ``../shared/data`` relative to the project root."""
    root = root or Path(__file__).resolve().parents[1]
    data = root.parent / "shared" / "data"
    return {"locomo": data / "locomo" / "locomo_dev.json",
            "longmemeval": data / "longmemeval" / "longmemeval_s_dev.json"}


def parse_locomo_date(text: str) -> datetime:
    """'1:56 pm on 8 May, 2023' -> an aware UTC datetime."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=timezone.utc)


def parse_longmemeval_date(text: str) -> datetime:
    """'2023/08/11 (Fri) 15:58' -> an aware UTC datetime."""
    day, _, clock = text.strip().partition(" ")
    clock = clock.split(")")[-1].strip() or "00:00"
    return datetime.strptime(f"{day} {clock}", "%Y/%m/%d %H:%M").replace(tzinfo=timezone.utc)


def parse_evidence(raw: list[str] | str, known: set[str] | frozenset[str]) -> tuple[str, ...]:
    """Repair LoCoMo evidence strings ('D8:6; D9:17', 'D:11:26') and keep ids that name a turn.

    Order is kept and duplicates dropped.
    """
    items = [raw] if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for item in items:
        for a, b in _EVIDENCE.findall(str(item)):
            tid = f"D{int(a)}:{int(b)}"
            if tid in known and tid not in out:
                out.append(tid)
    return tuple(out)


def _locomo_text(turn: dict) -> str:
    text = str(turn.get("text", "")).strip()
    caption = turn.get("blip_caption")
    if caption:
        text = f"{text} [shares a photo: {str(caption).strip()}]".strip()
    return text


def load_locomo(path: str | Path, *, limit: int | None = None) -> list[History]:
    """LoCoMo conversations: both speakers are people (role "user", name = speaker).

    Questions without evidence (after repair) are skipped. A LoCoMo question has no date: it is
    asked one day after the last session.
    """
    data = json.loads(Path(path).read_text())
    out: list[History] = []
    for conv in data[:limit]:
        c = conv["conversation"]
        nums = sorted(int(k.split("_")[1]) for k in c if re.fullmatch(r"session_\d+", k))
        sessions = []
        for n in nums:
            turns = [Turn(tid=t["dia_id"], role="user", speaker=t["speaker"], text=_locomo_text(t))
                     for t in c[f"session_{n}"] if _locomo_text(t)]
            if turns:
                sessions.append(Session(sid=f"session_{n}", date=parse_locomo_date(c[f"session_{n}_date_time"]),
                                        turns=turns))
        known = {t.tid for s in sessions for t in s.turns}
        asked = max(s.date for s in sessions) + timedelta(days=1)
        questions = []
        for i, qa in enumerate(conv["qa"]):
            evidence = parse_evidence(qa.get("evidence") or [], known)
            if not evidence:
                continue
            cat = int(qa["category"])
            questions.append(Question(qid=f"{conv['sample_id']}#{i}", text=str(qa["question"]), date=asked,
                                      evidence=evidence, category=LOCOMO_CATEGORIES.get(cat, str(cat))))
        out.append(History(hid=str(conv["sample_id"]), sessions=sessions, questions=questions))
    return out


def load_longmemeval(path: str | Path, *, limit: int | None = None, per_type: int | None = None) -> list[History]:
    """LongMemEval questions, one history each; evidence = the turns marked ``has_answer``.

    Questions with no marked turn (abstention questions) are skipped. ``per_type`` keeps the
    first N questions of each question type (for a quick run), ``limit`` the first N overall.
    """
    data = json.loads(Path(path).read_text())
    out: list[History] = []
    seen: dict[str, int] = {}
    for q in data:
        qtype = str(q["question_type"])
        sessions, evidence = [], []
        for sid, date, turns in zip(q["haystack_session_ids"], q["haystack_dates"], q["haystack_sessions"]):
            kept = []
            for i, t in enumerate(turns):
                text = str(t.get("content", "")).strip()
                if not text:
                    continue
                tid = f"{sid}#{i}"
                kept.append(Turn(tid=tid, role=str(t.get("role", "user")), speaker=None, text=text))
                if t.get("has_answer"):
                    evidence.append(tid)
            if kept:
                sessions.append(Session(sid=str(sid), date=parse_longmemeval_date(date), turns=kept))
        if not evidence:
            continue
        if per_type is not None and seen.get(qtype, 0) >= per_type:
            continue
        seen[qtype] = seen.get(qtype, 0) + 1
        sessions.sort(key=lambda s: s.date)  # stable: keeps haystack order within a date
        question = Question(qid=str(q["question_id"]), text=str(q["question"]),
                            date=parse_longmemeval_date(q["question_date"]),
                            evidence=tuple(dict.fromkeys(evidence)), category=qtype)
        out.append(History(hid=str(q["question_id"]), sessions=sessions, questions=[question]))
        if limit is not None and len(out) >= limit:
            break
    return out
