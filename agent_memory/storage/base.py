"""The storage contract: ``GraphStore``, everything ingestion and retrieval need from a backend.

A backend keeps one memory: users, threads, episodes, the temporal graph (entities, facts,
mentions), observations, templates and model-call accounting, plus full text and vectors of the
four searchable kinds. Ingest and retrieval see only this protocol; the embedded default (SQLite
records + a vector index) and PostgreSQL (records, full text and pgvector in one engine) implement
it, and ``tests/storage`` pins the contract for every backend.

Rules every backend keeps:

- **Scoped by user.** Every read of graph records takes the owning ``user_id`` and never returns
  another user's rows, whatever ids it is given.
- **Transactions.** ``atomic()`` opens a write transaction for the calling thread (nested calls are
  savepoints); other threads never join it, and readers in other threads are not blocked by it for
  longer than a statement.
- **Vectors follow records (the outbox).** A write that creates a searchable record, or changes the
  text it is embedded from, also records in the same transaction that the record needs a vector.
  ``vector_tasks`` lists what is owed; ``write_vectors`` stores vectors idempotently (ids are
  deterministic) and settles those tasks. No vector is written inside a record transaction, so a
  reader never waits for someone else's embedding. ``reconcile`` repairs what a crash left: records
  with no vector and no task get a task, vectors with no record are removed.
- **Delete means gone.** ``delete_user`` removes every row, full-text entry and vector of the user.

Optional capability: a store shared by several processes (PostgreSQL) has ``claim_user(user_id)``,
a context manager held while one process ingests that user's pending episodes, so a user's
episodes are processed by one process at a time, in order. Ingestion enters it through
:func:`claim_user`, which is a no-op for stores without it (one process owns an embedded store).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

import numpy as np

from ..models import ContextTemplate, Entity, Episode, EpisodeStatus, Fact, Observation, Role, Thread, User

__all__ = [
    "KINDS",
    "EpisodeHead",
    "GraphStore",
    "Kind",
    "MentionStat",
    "ReconcileReport",
    "VectorTask",
    "claim_user",
]

Kind = Literal["fact", "entity", "episode", "observation"]
KINDS: tuple[Kind, ...] = ("fact", "entity", "episode", "observation")


@dataclass(frozen=True)
class VectorTask:
    """A record that needs a (new) vector: written by the record's own transaction.

    ``seq`` grows every time a task is queued (again): ``write_vectors(..., queued_before=seq)``
    settles only tasks queued before the text was read, so an edit made meanwhile is not lost.
    """

    user_id: str
    kind: Kind
    uuid: str
    seq: int = 0


class EpisodeHead(NamedTuple):
    """What ranking needs of an episode, without its text: who said it, when, in which thread, how
    long it is (characters), and ``seq``, which grows in the order episodes were added (so it orders
    turns that share a timestamp)."""

    uuid: str
    thread_id: str | None
    role: Role | None
    name: str | None
    reference_time: datetime
    length: int
    seq: int


@dataclass(frozen=True)
class MentionStat:
    """How often one entity is mentioned across a user's threads."""

    entity_uuid: str
    mentions: int
    threads: int
    first_seen: datetime
    last_seen: datetime
    sessions: list[str]


@dataclass
class ReconcileReport:
    """What ``reconcile`` repaired: per kind, vectors owed again and orphan vectors removed.

    ``full`` is False when the comparison was skipped because the last session closed cleanly.
    """

    queued: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    full: bool = True

    @property
    def repaired(self) -> int:
        return sum(self.queued.values()) + sum(self.removed.values())


def claim_user(store: object, user_id: str) -> AbstractContextManager[object]:
    """The store's cross-process claim on a user's ingestion (waits while another process holds it),
    or a no-op for a store without that capability."""
    claim = getattr(store, "claim_user", None)
    return claim(user_id) if callable(claim) else nullcontext()


@runtime_checkable
class GraphStore(Protocol):
    """One memory's records, full text and vectors. See the module docstring for the rules."""

    # Each read is a round trip to a server: a reader gains from running independent reads side by
    # side. In-process (SQLite) reads gain nothing from it and pay the threads' handoffs.
    round_trips: bool

    # -- lifecycle and metadata --------------------------------------------------------------
    def atomic(self) -> AbstractContextManager[None]:
        """A write transaction for the calling thread; nested calls are savepoints."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    # -- users and threads -------------------------------------------------------------------
    def add_user(self, user: User) -> None: ...

    def update_user(self, user: User) -> None: ...

    def get_user(self, user_id: str) -> User | None: ...

    def list_users(self, limit: int = 100, offset: int = 0) -> list[User]: ...

    def count_users(self) -> int: ...

    def delete_user(self, user_id: str) -> None:
        """Remove every row, full-text entry, vector and vector task of the user."""
        ...

    def add_thread(self, thread: Thread) -> None: ...

    def get_thread(self, thread_id: str) -> Thread | None: ...

    def list_threads(self, user_id: str, limit: int = 100, offset: int = 0) -> list[Thread]: ...

    def count_threads(self, user_id: str) -> int: ...

    def delete_thread(self, thread_id: str) -> None:
        """Remove the thread, its episodes and their vectors (the graph keeps what it learned)."""
        ...

    # -- episodes ----------------------------------------------------------------------------
    def add_episodes(self, episodes: Sequence[Episode]) -> None:
        """Persist new episodes (all or none), pending, each owing a vector."""
        ...

    def get_episodes(self, user_id: str, uuids: Sequence[str]) -> list[Episode]:
        """The user's episodes among ``uuids``, in the order given; unknown ids are skipped."""
        ...

    def episode_heads(self, user_id: str, uuids: Sequence[str]) -> dict[str, EpisodeHead]:
        """The heads of the user's episodes among ``uuids``, in the order given (unknown ids and other
        users' absent): a retriever ranks hundreds of candidates on these and reads whole episodes only
        for the block."""
        ...

    def list_episodes(
        self, user_id: str, *, thread_id: str | None = None, source: str | None = None,
        status: str | None = None, since: datetime | None = None, until: datetime | None = None,
        limit: int = 100, offset: int = 0, newest_first: bool = False,
    ) -> list[Episode]: ...

    def adjacent_episodes(self, user_id: str, uuids: Sequence[str]) -> dict[str, list[Episode]]:
        """For each of the user's episodes among ``uuids`` that has a thread: the latest episode of that
        thread with an earlier reference time, then the earliest with a later one (ties by the order
        they were added), as ``list_episodes`` would give them. Ids with neither are absent."""
        ...

    def adjacent_with_heads(self, user_id: str,
                            uuids: Sequence[str]) -> tuple[dict[str, list[Episode]], dict[str, EpisodeHead]]:
        """``adjacent_episodes``, and the heads (as ``episode_heads`` gives them) of those of the episodes
        returned that the backend reads with them: a server all of them, in the same round trip (a retriever
        ranks the neighbours on their heads); an in-process store may give none. The caller reads the rest."""
        ...

    def thread_openers(self, user_id: str, thread_ids: Sequence[str], n: int = 2) -> dict[str, list[str]]:
        """The uuids of each of the user's threads' first ``n`` episodes (by reference time, ties by the
        order they were added), in that order. Threads with no episode of this user are absent."""
        ...

    def thread_messages(self, thread_id: str, *, last: int | None = None) -> list[Episode]:
        """A thread's message episodes in conversation order (the last ``last`` if given)."""
        ...

    def pending_episodes(self, user_id: str, limit: int = 256) -> list[Episode]:
        """Pending episodes in reference-time order."""
        ...

    def users_with_pending(self) -> list[str]: ...

    def set_episode_status(self, user_id: str, uuid: str, status: EpisodeStatus, error: str | None = None) -> None:
        ...

    def count_episodes(self, user_id: str, status: str | None = None) -> int: ...

    def delete_episode(self, user_id: str, uuid: str) -> list[str]:
        """Remove an episode, its links and vector, and the facts only it stated; returns those facts' ids."""
        ...

    # -- entities and mentions ---------------------------------------------------------------
    def save_entity(self, entity: Entity) -> None:
        """Insert or update (by uuid); owes a vector when new or when its embedded text changed."""
        ...

    def get_entities(self, user_id: str, uuids: Sequence[str]) -> list[Entity]: ...

    def entities_by_names(self, user_id: str, names: Sequence[str]) -> dict[str, list[Entity]]:
        """Entities whose name or alias normalises to one of ``names``, keyed by normalised name."""
        ...

    def list_entities(self, user_id: str, *, type: str | None = None, limit: int = 100,
                      offset: int = 0) -> list[Entity]: ...

    def add_mentions(self, user_id: str, pairs: Sequence[tuple[str, str]]) -> None:
        """Record (entity_uuid, episode_uuid) mentions; repeats are ignored."""
        ...

    def mention_stats(self, user_id: str, min_threads: int = 2, limit: int = 50,
                      entity_uuids: Sequence[str] | None = None) -> list[MentionStat]:
        """Per entity mentioned in ``min_threads`` threads or more (of ``entity_uuids`` only, if
        given): its mentions, threads, first and last time seen; the most mentioned first."""
        ...

    def mentions_of_types(self, user_id: str, types: Sequence[str]) -> list[tuple[str, str]]:
        """(entity_uuid, episode_uuid) of every mention of the user's entities of these types."""
        ...

    # -- facts -------------------------------------------------------------------------------
    def save_fact(self, fact: Fact) -> None:
        """Insert or update (by uuid) with provenance; owes a vector when new or its text changed."""
        ...

    def get_facts(self, user_id: str, uuids: Sequence[str]) -> list[Fact]: ...

    def facts_from(self, user_id: str, source_uuid: str, relation: str, *,
                   current_only: bool = True) -> list[Fact]: ...

    def facts_touching(self, user_id: str, entity_uuids: Sequence[str], limit: int = 200) -> list[Fact]: ...

    def list_facts(
        self, user_id: str, *, thread_id: str | None = None, relation: str | None = None,
        current_only: bool = False, as_of: datetime | None = None, since: datetime | None = None,
        until: datetime | None = None, limit: int = 100, offset: int = 0,
    ) -> list[Fact]: ...

    def facts_of_episodes(self, user_id: str, episode_uuids: Sequence[str]) -> dict[str, list[str]]:
        """Episode uuid -> ids of the facts it is provenance of."""
        ...

    def count_facts(self, user_id: str) -> int: ...

    # -- observations ------------------------------------------------------------------------
    def save_observation(self, obs: Observation) -> Observation:
        """Insert or update by (user, key); returns it with its stored uuid."""
        ...

    def delete_observation(self, user_id: str, key: str) -> None: ...

    def list_observations(self, user_id: str, limit: int = 100) -> list[Observation]: ...

    def get_observations(self, user_id: str, uuids: Sequence[str]) -> list[Observation]: ...

    # -- search ------------------------------------------------------------------------------
    def search_text(self, user_id: str, kind: Kind, query: str, limit: int = 20) -> list[tuple[str, float]]:
        """Full-text (stemmed, ranked) hits of one kind: (uuid, score), best first."""
        ...

    def search_vectors(self, user_id: str, kind: Kind, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """For each row of ``vectors``, the ``k`` nearest (uuid, cosine similarity), best first."""
        ...

    def search_episode_text(self, user_id: str, query: str, limit: int = 20, *, among: Sequence[str] = (),
                            ) -> tuple[list[tuple[str, float]], dict[str, EpisodeHead]]:
        """``search_text`` over episodes, and the heads (as ``episode_heads`` gives them) of those of the
        hits the backend reads with them: a server all of them, in the same round trip (a retriever ranks
        the hits on their heads); an in-process store may give none. The caller reads the rest.

        ``among``: only episodes whose text has at least one of these words (a speaker's name), ranked by
        them and the query's words together; none (or no content word among them): every episode."""
        ...

    def count_vectors(self, user_id: str, kind: Kind) -> int: ...

    # -- the vector outbox -------------------------------------------------------------------
    def vector_tasks(self, limit: int = 256, *, user_id: str | None = None) -> list[VectorTask]:
        """Records owed a vector, oldest first."""
        ...

    def write_vectors(self, user_id: str, kind: Kind, uuids: Sequence[str], vectors: np.ndarray, *,
                      queued_before: int | None = None) -> None:
        """Store vectors (idempotent upsert) and settle those records' tasks; skips deleted records.

        With ``queued_before``, only tasks with ``seq <= queued_before`` are settled (a record
        queued again after its text was read keeps its task).
        """
        ...

    def reconcile(self, *, if_unclean: bool = False) -> ReconcileReport:
        """Queue vectors for records that lack one; remove vectors whose record is gone.

        With ``if_unclean`` (the open path), a backend that knows its last session closed cleanly
        (so nothing a crash leaves half-done can be there) may skip the comparison (``full=False``).
        """
        ...

    # -- model-call accounting and templates -------------------------------------------------
    def record_llm_call(self, *, purpose: str, model: str, prompt_tokens: int, completion_tokens: int,
                        latency_ms: float, ok: bool, error: str | None, attempt: int,
                        episodes: Sequence[str], created_at: datetime) -> None: ...

    def llm_usage(self, user_id: str, episode_uuid: str | None = None) -> dict[str, Any]: ...

    def save_template(self, template: ContextTemplate) -> None: ...

    def get_template(self, template_id: str) -> ContextTemplate | None: ...

    def list_templates(self) -> list[ContextTemplate]: ...

    def delete_template(self, template_id: str) -> None: ...
