"""The records of a user's temporal context graph, as plain pydantic models (no I/O).

Valid time (``valid_at``/``invalid_at``: when a fact was true in the world) and
transaction time (``created_at``/``expired_at``: when memory learned or retired it)
are kept apart. All timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import uuid as _uuid
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar, cast

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._time import parse_ts, utcnow
from .errors import AgentMemoryError, InvalidInputError
from .validation import check_id, check_metadata, check_name, check_new_id, check_time

__all__ = [
    "ContextTemplate",
    "Entity",
    "Episode",
    "EpisodeSource",
    "EpisodeStatus",
    "Fact",
    "LLMUsage",
    "Message",
    "Observation",
    "Role",
    "SearchResult",
    "SearchScope",
    "Thread",
    "User",
    "UserContext",
    "new_id",
]


def new_id() -> str:
    """A fresh record id."""
    return str(_uuid.uuid4())


class _Record(BaseModel):
    """Base model whose validation failures raise our own InvalidInputError."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            raise _translate(type(self).__name__, exc) from exc


_R = TypeVar("_R", bound="_Record")


def stored(cls: type[_R], values: dict[str, Any]) -> _R:
    """A record read back from a store: what pydantic's ``model_construct`` builds, not validated again.

    Every field must be given, already of its model type (enums, aware UTC datetimes): it was
    validated when written. A context reads hundreds of records; validating them again was a fifth
    of its CPU (``tests/storage/test_batched_reads.py`` pins equality with the records written).
    """
    if cls.__private_attributes__ or cls.model_config.get("extra") == "allow":
        return cast(_R, cls.model_construct(**values))
    # what model_construct sets for a model with every field given, no extras and no private
    # attributes, without its per-field loop: 2.9 instead of 10.5 us an episode
    record = cls.__new__(cls)
    object.__setattr__(record, "__dict__", values)
    object.__setattr__(record, "__pydantic_fields_set__", set(values))
    object.__setattr__(record, "__pydantic_extra__", None)
    object.__setattr__(record, "__pydantic_private__", None)
    return record


_E = TypeVar("_E", bound=Enum)


def member(cls: type[_E], value: str) -> _E:
    """A stored enum value as its member: a dict lookup (calling the enum costs ~2 us, hundreds of
    times a read); a value that is not one still goes through the enum, which says so."""
    found = cls._value2member_map_.get(value)
    return cast(_E, found) if found is not None else cls(value)


def _translate(model: str, exc: pydantic.ValidationError) -> AgentMemoryError:
    """Turn pydantic's error into one of ours that says which field to fix."""
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ())) or "value"
    original = (first.get("ctx") or {}).get("error")
    if isinstance(original, AgentMemoryError):
        return original
    return InvalidInputError(f"{model}.{loc}: {first.get('msg', 'invalid value')} (got {first.get('input')!r})")


def _ts_validator(*fields: str) -> Any:
    def check(cls: type, value: Any, info: pydantic.ValidationInfo) -> datetime | None:
        if value is None:
            return None
        return parse_ts(value, field=info.field_name or "timestamp")

    return field_validator(*fields, mode="before")(check)


def _checked(check: Any, *fields: str) -> Any:
    """A before-validator running one of ``agent_memory.validation``'s checks on each field (None passes)."""
    def run(cls: type, value: Any, info: pydantic.ValidationInfo) -> Any:
        return value if value is None else check(value, f"{cls.__name__}.{info.field_name}")

    return field_validator(*fields, mode="before")(run)


class Role(str, Enum):
    """Who wrote a message."""

    user = "user"
    assistant = "assistant"
    system = "system"
    tool = "tool"


class EpisodeSource(str, Enum):
    """What kind of raw input an episode holds."""

    message = "message"
    text = "text"
    json = "json"


class EpisodeStatus(str, Enum):
    """Where an episode is in the ingestion pipeline."""

    pending = "pending"
    processed = "processed"
    failed = "failed"


class SearchScope(str, Enum):
    """What ``graph.search`` returns."""

    edges = "edges"
    nodes = "nodes"
    episodes = "episodes"
    observations = "observations"


class User(_Record):
    """The owner of one graph. Also an Entity node, named by first/last name."""

    user_id: str = Field(min_length=1, max_length=256)
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    summary: str | None = None
    entity_uuid: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    _check_ts = _ts_validator("created_at", "updated_at")
    _check_names = _checked(check_name, "email", "first_name", "last_name")
    _check_meta = _checked(check_metadata, "metadata")

    @property
    def display_name(self) -> str:
        """First and last name, else the user id."""
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or self.user_id


class Thread(_Record):
    """One conversation writing into its user's graph."""

    thread_id: str = Field(min_length=1, max_length=256)
    user_id: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)

    _check_ts = _ts_validator("created_at")
    _check_ids = _checked(check_id, "user_id")
    _check_meta = _checked(check_metadata, "metadata")


class Message(_Record):
    """A chat message. ``created_at`` anchors facts in time; ``name`` attributes statements."""

    uuid: str = Field(default_factory=new_id)
    role: Role
    content: str
    name: str | None = None
    created_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    thread_id: str | None = None

    _check_ts = _checked(check_time, "created_at")
    _check_uuid = _checked(check_new_id, "uuid")
    _check_ids = _checked(check_id, "thread_id")
    _check_name = _checked(check_name, "name")
    _check_meta = _checked(check_metadata, "metadata")


class Episode(_Record):
    """The lossless raw record: a message, a text or a JSON event. Everything traces back to one."""

    uuid: str = Field(default_factory=new_id)
    user_id: str
    thread_id: str | None = None
    source: EpisodeSource
    content: str
    role: Role | None = None
    name: str | None = None
    reference_time: datetime
    ingested_at: datetime = Field(default_factory=utcnow)
    status: EpisodeStatus = EpisodeStatus.pending
    error: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    _check_ts = _ts_validator("reference_time", "ingested_at")


class Entity(_Record):
    """One node per real thing; resolution merges duplicates into it."""

    uuid: str = Field(default_factory=new_id)
    user_id: str
    name: str
    type: str = "Topic"
    aliases: list[str] = Field(default_factory=list)
    summary: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    _check_ts = _ts_validator("created_at", "updated_at")


class Fact(_Record):
    """A dated edge between two entities, with the episodes it came from.

    A contradicted fact is closed (``invalid_at`` set, ``invalidated_by`` names the
    episode that closed it), never deleted.
    """

    uuid: str = Field(default_factory=new_id)
    user_id: str
    source_uuid: str
    target_uuid: str
    source_name: str | None = None
    target_name: str | None = None
    relation: str
    fact: str
    valid_at: datetime | None = None
    invalid_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    expired_at: datetime | None = None
    invalidated_by: str | None = None
    episodes: list[str] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)

    _check_ts = _ts_validator("valid_at", "invalid_at", "created_at", "expired_at")

    @property
    def is_current(self) -> bool:
        """True while the fact has not been closed."""
        return self.invalid_at is None and self.expired_at is None


class Observation(_Record):
    """A pattern derived across sessions, e.g. 'talks about Queen (5 of 7 threads)'."""

    uuid: str = Field(default_factory=new_id)
    user_id: str
    key: str
    text: str
    evidence: list[str] = Field(default_factory=list)
    first_seen: datetime
    last_seen: datetime
    count: int = 1
    sessions: list[str] = Field(default_factory=list)

    _check_ts = _ts_validator("first_seen", "last_seen")


class ContextTemplate(_Record):
    """A reusable, versioned layout for the context block."""

    template_id: str = Field(min_length=1, max_length=256)
    template: str
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    _check_ts = _ts_validator("created_at", "updated_at")


class SearchResult(_Record):
    """One scored hit of ``graph.search``: exactly one of the record fields is set.

    ``score`` ranks hits within one search (its scale varies by query and scope); ``relevance``
    is comparable across searches: the cosine of query and hit text, in [0, 1] (``retrieval.relevance``).
    """

    score: float
    relevance: float | None = None
    fact: Fact | None = None
    entity: Entity | None = None
    episode: Episode | None = None
    observation: Observation | None = None


class UserContext(_Record):
    """What ``thread.get_user_context`` returns: the block and the parts it was built from."""

    context: str
    query: str
    user_id: str
    thread_id: str | None = None
    template_id: str | None = None
    user_summary: str | None = None
    facts: list[Fact] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    episodes: list[Episode] = Field(default_factory=list)
    observations: list[Observation] = Field(default_factory=list)
    token_count: int = 0


class LLMUsage(_Record):
    """Model calls and tokens spent on a user's episodes (an episode's share when asked per episode)."""

    user_id: str
    episode_uuid: str | None = None
    calls: float = 0
    failed_calls: float = 0
    prompt_tokens: float = 0
    completion_tokens: float = 0
    latency_ms: float = 0
    calls_by_purpose: dict[str, float] = Field(default_factory=dict)  # "extract", "resolve", "summarize"
