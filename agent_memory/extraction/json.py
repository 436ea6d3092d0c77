"""Business events (JSON episodes) as facts, structurally and deterministically, with no model.

``{"event_type": "payment_failed", "amount": 49.0, "plan": "Pro", "timestamp": "..."}`` becomes an
Event entity ``payment_failed`` with the fact ``Jane Smith -[PAYMENT_FAILED]-> payment_failed``
("Jane Smith: payment_failed (amount: 49.0, plan: Pro)") and the state fact ``HAS_PLAN Pro``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..errors import InvalidJSONError
from ..models import Episode
from .base import ExtractedEntity, ExtractedFact, Extraction, ExtractionContext
from .dates import parse_timestamp
from .relations import normalize_relation

__all__ = ["JsonExtractor", "flatten"]

_EVENT_KEYS = ("event_type", "event", "type", "event_name", "action", "name")
_SUBJECT_KEYS = ("customer_name", "user_name", "username", "full_name", "customer.name", "user.name",
                 "customer.full_name", "user.full_name", "name")
_TIME_KEYS = ("timestamp", "occurred_at", "created_at", "time", "date", "event_time", "ts", "datetime")
# Recognised state keys (last dotted component) -> (relation, target type, sentence template).
_STATE: dict[str, tuple[str, str, str]] = {
    "plan": ("HAS_PLAN", "Plan", "{s} is on the {v} plan."),
    "plan_name": ("HAS_PLAN", "Plan", "{s} is on the {v} plan."),
    "subscription": ("HAS_PLAN", "Plan", "{s} is on the {v} plan."),
    "subscription_plan": ("HAS_PLAN", "Plan", "{s} is on the {v} plan."),
    "tier": ("HAS_PLAN", "Plan", "{s} is on the {v} plan."),
    "status": ("ACCOUNT_STATUS", "Status", "{s}'s account status is {v}."),
    "account_status": ("ACCOUNT_STATUS", "Status", "{s}'s account status is {v}."),
    "email": ("HAS_EMAIL", "Email", "{s}'s email is {v}."),
    "phone": ("HAS_PHONE", "Phone", "{s}'s phone number is {v}."),
    "city": ("LIVES_IN", "Place", "{s} lives in {v}."),
    "location": ("LIVES_IN", "Place", "{s} lives in {v}."),
    "company": ("WORKS_AT", "Organization", "{s} works at {v}."),
    "employer": ("WORKS_AT", "Organization", "{s} works at {v}."),
    "job_title": ("JOB_TITLE", "JobTitle", "{s}'s job title is {v}."),
}
# Parents under which a recognised key still describes the subject (not an order or a shipment).
_SUBJECT_PARENTS = frozenset(
    {"", "user", "customer", "account", "profile", "member", "subscription", "billing"}
)
_OWNED_PARENTS = frozenset({"user", "customer", "account", "profile", "member", "preferences", "settings"})
_PLAN_KEYS = frozenset({"plan", "subscription", "tier", "subscription_plan"})
_LIST_PREVIEW = 5
_PERSON = re.compile(r"[A-Z][\w'.-]*(?: [A-Z][\w'.-]*){0,3}")


def flatten(obj: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Scalar leaves as (dotted key, value); lists of scalars joined, other lists summarised."""
    out: list[tuple[str, Any]] = []
    for key, value in obj.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.extend(flatten(value, f"{path}."))
        elif isinstance(value, list):
            scalars = [v for v in value if not isinstance(v, (dict, list))]
            if value and len(scalars) == len(value):
                shown = ", ".join(str(v) for v in scalars[:_LIST_PREVIEW])
                more = len(scalars) - _LIST_PREVIEW
                out.append((path, shown + (f" (+{more} more)" if more > 0 else "")))
            else:
                out.append((path, f"{len(value)} item" + ("" if len(value) == 1 else "s")))
        else:
            out.append((path, value))
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return re.sub(r"\s+", " ", str(value)).strip()


def _is_id(key: str) -> bool:
    last = key.rsplit(".", 1)[-1].lower()
    return last in ("id", "uuid", "guid") or last.endswith(("_id", "_uuid", "id_"))


def _looks_like_event(value: Any) -> bool:
    return isinstance(value, str) and bool(re.fullmatch(r"[A-Za-z][\w.:-]{1,80}", value.strip())) and (
        "_" in value or "." in value or value.islower()
    )


def _looks_like_person(value: Any) -> bool:
    return isinstance(value, str) and bool(_PERSON.fullmatch(value.strip()))


def _first(fields: dict[str, Any], keys: Sequence[str], accept: Any) -> tuple[str, Any] | None:
    for key in keys:
        if key in fields and accept(fields[key]):
            return key, fields[key]
    return None


class JsonExtractor:
    """Facts from JSON business events: event type, recognised state keys, generic key/values.

    The subject is the user (``context.user_name``) unless the event names a person
    (``customer_name``, ``user_name``, ``name``, ...). Deterministic: the same JSON always gives
    the same facts in the same order.
    """

    name = "json"

    def __init__(self, *, max_generic_facts: int = 12, max_summary_fields: int = 8) -> None:
        """Configure caps: generic HAS_<KEY> facts per event, fields shown in the event sentence."""
        self.max_generic_facts = max_generic_facts
        self.max_summary_fields = max_summary_fields

    def extract(self, episodes: Sequence[Episode], context: ExtractionContext) -> list[Extraction]:
        """Return one Extraction per episode, in the same order."""
        return [self.extract_one(ep, context) for ep in episodes]

    def extract_one(self, episode: Episode, context: ExtractionContext) -> Extraction:
        """Facts from one JSON episode; InvalidJSONError when it is not a JSON object."""
        data = _load(episode)
        fields = dict(flatten(data))
        aliases = {a.lower() for a in (context.user_name, *context.user_aliases) if a}
        event = _first(fields, _EVENT_KEYS, _looks_like_event)
        subject_kv = _first(fields, _SUBJECT_KEYS, _looks_like_person)
        subject = context.user_name
        if subject_kv and str(subject_kv[1]).strip().lower() not in aliases:
            subject = str(subject_kv[1]).strip()
        when_kv = _first(fields, _TIME_KEYS, lambda v: parse_timestamp(v, episode.reference_time) is not None)
        when = parse_timestamp(when_kv[1], episode.reference_time) if when_kv else None
        used = {k for k in (event, subject_kv, when_kv) if k}
        consumed = {k for k, _ in used}

        facts: list[ExtractedFact] = []
        if event is not None:
            facts.append(self._event_fact(subject, event[1], fields, consumed, when))
        facts.extend(self._state_facts(subject, fields, consumed, when))
        facts.extend(self._generic_facts(subject, fields, consumed, when, has_event=event is not None))
        return Extraction(episode_uuid=episode.uuid, entities=_entities(facts), facts=facts)

    def _event_fact(
        self, subject: str, event: Any, fields: dict[str, Any], consumed: set[str], when: datetime | None
    ) -> ExtractedFact:
        shown = [(k, v) for k, v in fields.items() if k not in consumed and not _is_id(k) and _text(v)]
        summary = ", ".join(f"{k}: {_text(v)[:60]}" for k, v in shown[: self.max_summary_fields])
        name = _text(event)
        sentence = f"{subject}: {name}" + (f" ({summary})" if summary else "")
        attributes = {"fields": {k: v for k, v in fields.items() if k not in consumed}}
        return ExtractedFact(
            source=subject, relation=normalize_relation(name, synonyms=False), target=name, target_type="Event",
            fact=sentence, valid_at=when, attributes=attributes, occurrence=True,
        )

    def _state_facts(
        self, subject: str, fields: dict[str, Any], consumed: set[str], when: datetime | None
    ) -> list[ExtractedFact]:
        out: list[ExtractedFact] = []
        seen: set[str] = set()
        for key, value in fields.items():
            parent, _, last = key.rpartition(".")
            if last.lower() == "name" and parent.rpartition(".")[2].lower() in _PLAN_KEYS:
                parent, _, last = parent.rpartition(".")  # {"plan": {"name": "Team"}} is the plan
            spec = _STATE.get(last.lower())
            if spec is None or key in consumed or parent.lower() not in _SUBJECT_PARENTS or not _text(value):
                continue
            relation, ttype, template = spec
            if relation == "ACCOUNT_STATUS" and parent.lower() not in ("", "account", "user", "customer"):
                continue
            consumed.add(key)
            if relation in seen or isinstance(value, (dict, list)):
                continue
            seen.add(relation)
            target = _text(value)
            out.append(ExtractedFact(
                source=subject, relation=relation, target=target, target_type=ttype,
                fact=template.format(s=subject, v=target), valid_at=when, attributes={"key": key},
            ))
        return out

    def _generic_facts(
        self,
        subject: str,
        fields: dict[str, Any],
        consumed: set[str],
        when: datetime | None,
        *,
        has_event: bool,
    ) -> list[ExtractedFact]:
        out: list[ExtractedFact] = []
        for key, value in fields.items():
            if len(out) >= self.max_generic_facts:
                break
            owned = key.split(".", 1)[0].lower() in _OWNED_PARENTS and "." in key
            if key in consumed or _is_id(key) or not _text(value) or (has_event and not owned):
                continue
            name = key.split(".", 1)[1] if owned and key.split(".", 1)[0].lower() in _SUBJECT_PARENTS else key
            words = name.replace(".", " ").replace("_", " ").strip()
            relation = normalize_relation(f"HAS_{name}")
            target = _text(value)[:120]
            out.append(ExtractedFact(
                source=subject, relation=relation, target=target, target_type="Value",
                fact=f"{subject}'s {words} is {target}.", valid_at=when, attributes={"key": key},
            ))
        return out


def _load(episode: Episode) -> dict[str, Any]:
    try:
        data = json.loads(episode.content)
    except (TypeError, ValueError) as exc:
        raise InvalidJSONError(
            f"episode {episode.uuid}: content is not valid JSON ({exc})", episode_uuid=episode.uuid
        ) from exc
    if not isinstance(data, dict):
        raise InvalidJSONError(
            f"episode {episode.uuid}: JSON content must be an object, got {type(data).__name__}",
            episode_uuid=episode.uuid,
        )
    return data


def _entities(facts: list[ExtractedFact]) -> list[ExtractedEntity]:
    seen: dict[str, ExtractedEntity] = {}
    for fact in facts:
        for name, etype in ((fact.source, fact.source_type), (fact.target, fact.target_type)):
            seen.setdefault(name.lower(), ExtractedEntity(name=name, type=etype))
    return list(seen.values())
