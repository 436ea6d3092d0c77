"""The Extractor protocol and its typed input/output.

An extractor reads a batch of episodes and names entities and facts by *name*; resolution
against the user's graph (ids, duplicates, contradictions) happens later, in ``ingest``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from ..models import Episode

__all__ = [
    "ExtractedEntity",
    "ExtractedFact",
    "Extraction",
    "ExtractionContext",
    "Extractor",
]


class ExtractionContext(BaseModel):
    """What an extractor knows about the graph's owner, so "I" and "my" resolve to them."""

    user_id: str
    user_name: str
    user_aliases: list[str] = Field(default_factory=list)
    known_entities: list[str] = Field(default_factory=list)
    known_facts: list[str] = Field(default_factory=list)


class ExtractedEntity(BaseModel):
    """An entity mentioned in an episode, named as it appears (or canonicalised)."""

    name: str
    type: str = "Topic"
    aliases: list[str] = Field(default_factory=list)
    summary: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class ExtractedFact(BaseModel):
    """A fact between two named entities.

    ``relation`` is UPPER_SNAKE. ``valid_at`` defaults (in ingest) to the episode's reference time.
    ``invalid_at`` set with ``ends=True`` means the episode says the relation *ended*
    ("I no longer work at Acme"): ingest closes the matching current fact. ``occurrence`` marks an
    event that happened at ``valid_at`` (a payment failed): each occurrence is its own fact, never a
    duplicate or a contradiction, and its relation name is kept as spelled.
    """

    source: str
    source_type: str = "Person"
    relation: str
    target: str
    target_type: str = "Topic"
    fact: str
    valid_at: datetime | None = None
    invalid_at: datetime | None = None
    ends: bool = False
    occurrence: bool = False
    attributes: dict[str, Any] = Field(default_factory=dict)


class Extraction(BaseModel):
    """What one episode yielded."""

    episode_uuid: str
    entities: list[ExtractedEntity] = Field(default_factory=list)
    facts: list[ExtractedFact] = Field(default_factory=list)


@runtime_checkable
class Extractor(Protocol):
    """Reads episodes and names the entities and facts in them.

    An extractor that sets ``wants_context = True`` gets the user's entities and current facts
    nearest to the batch in ``ExtractionContext.known_entities`` / ``known_facts``.
    """

    name: str

    def extract(self, episodes: Sequence[Episode], context: ExtractionContext) -> list[Extraction]:
        """Return one Extraction per episode, in the same order."""
        ...
