"""The service layer behind Memory and AsyncMemory: validation and orchestration, written once.

It is given its parts (a ``GraphStore``, an embedder, extractors, an optional model client: see
``builder``) and never builds or imports a concrete backend. Every public operation of the client
is one method here; the client only shapes arguments. Everything is synchronous and I/O-bound;
the async facade runs the same methods in worker threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ._switching import switching
from ._time import parse_ts, utcnow
from .config import MemoryConfig
from .context.lines import forget_lines
from .embedding.base import Embedder
from .embedding.cache import cached
from .errors import (
    AlreadyExistsError,
    ClosedError,
    ConfigError,
    EpisodeNotFoundError,
    InvalidInputError,
    StorageError,
    ThreadNotFoundError,
    UserNotFoundError,
)
from .extraction.base import Extractor
from .ingest.indexer import Indexer
from .ingest.pipeline import Ingestor, Judge, user_entity
from .ingest.summaries import Summaries
from .ingest.worker import Readers, Worker
from .models import (
    Entity,
    Episode,
    EpisodeSource,
    Fact,
    LLMUsage,
    Message,
    Observation,
    Role,
    SearchResult,
    SearchScope,
    Thread,
    User,
)
from .retrieval.search import Retriever
from .service_context import ContextMixin
from .storage.base import GraphStore, ReconcileReport
from .validation import (
    check_args,
    check_content,
    check_filters,
    check_message,
    check_metadata,
    check_name,
    check_new_id,
    check_role,
    check_time,
)
from .validation import check_id as _check_id
from .validation import check_json_data as _json_text

__all__ = ["MemoryService"]

log = logging.getLogger(__name__)


class MemoryService(ContextMixin):
    """Validates input and runs one memory: its store, pipeline, indexer, retriever and worker."""

    _store_closed: bool  # set once the store is closed: no more accounting writes

    def __init__(self, config: MemoryConfig, *, store: GraphStore, embedder: Embedder, extractor: Extractor,
                 json_extractor: Extractor, llm: Any = None, judge: Judge | None = None) -> None:
        self.config = config
        self.llm = llm
        self.store = store
        self.embedder = embedder
        self._check_embedder()
        embed_once = cached(embedder)  # the pipeline and the indexer share it: a text reaches the model once
        self.indexer = Indexer(store, embed_once)
        self.reconcile_report: ReconcileReport = store.reconcile(if_unclean=True)  # full after a crash
        self.indexer.drain()  # what a crash (or an upgrade) left owed
        self.summaries = Summaries(store, config, llm, lambda user_id: self.ingestor.index_owed(user_id))
        summarizer = self.summaries.queue if llm is not None else (
            self.summaries.with_questions if config.summary_questions else None)
        # a model's resolution call reads the whole batch: smaller ones there; offline, larger ones pack better
        batch_size = config.ingest_batch_size or (64 if llm is not None or judge is not None else 128)
        self.ingestor = Ingestor(self.store, embed_once, extractor, json_extractor, batch_size=batch_size,
                                 merge_threshold=config.entity_merge_threshold,
                                 judge=judge, summarizer=summarizer, indexer=self.indexer)
        self.retriever = Retriever(self.store, embedder, pool=config.candidate_pool)
        debounce = config.llm_debounce_seconds if self.llm is not None else 0.0
        self.readers = Readers()
        self.worker = (Worker(self.ingestor, debounce=debounce, min_batch=config.llm_min_batch if self.llm else 1,
                              readers=self.readers)
                       if config.ingest_mode == "background" else None)
        self._closed = self._store_closed = False
        self._lock = threading.Lock()
        if self.llm is not None:  # last: a Memory that failed to build does not claim the client
            self.llm.on_call = self._record_call

    def _check_embedder(self) -> None:
        """Vectors from two embedders are not comparable: refuse to mix them in one memory."""
        key = f"{self.embedder.name}:{self.embedder.dimensions}"
        known = self.store.get_meta("embedder")
        if known is None:
            self.store.set_meta("embedder", key)
        elif known.startswith("reindexing to "):
            raise ConfigError(f"a reindex of this memory ({known}) did not finish; run it again: "
                              "agent-memory reindex --home <memory home>")
        elif known != key:
            raise ConfigError(
                f"this memory was built with embedder {known!r} but {key!r} was given; open it with the same "
                f"embedder, or rebuild its vectors with the new one: agent-memory reindex --home <memory home>"
                + (" (or open it with MiniLMEmbedder(quantized=False), the previous default)"
                   if known.startswith("minilm-l6-v2-int8:") else ""))

    # -- the model path -------------------------------------------------------------------------
    def _record_call(self, record: Any) -> None:
        """Persist one model call's accounting (the LLM client calls this for every attempt).

        Calls made while ``close()`` drains the worker's queue are recorded too; none after the store closed.
        """
        if self._store_closed:
            return
        self.store.record_llm_call(purpose=record.purpose, model=record.model, prompt_tokens=record.prompt_tokens,
                                   completion_tokens=record.completion_tokens, latency_ms=record.latency_ms,
                                   ok=record.ok, error=record.error, attempt=record.attempt,
                                   episodes=record.episodes, created_at=utcnow())

    def usage(self, user_id: str, episode_uuid: str | None) -> LLMUsage:
        self.user(user_id)
        check_args(episode_uuid=episode_uuid)
        return LLMUsage(user_id=user_id, episode_uuid=episode_uuid, **self.store.llm_usage(user_id, episode_uuid))

    # -- lifecycle ----------------------------------------------------------------------------
    def check_open(self) -> None:
        if self._closed:
            raise ClosedError("this Memory is closed; create a new one")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self.worker:
            self.worker.stop()
        self.retriever.close()
        if self.llm is not None:
            try:
                self.summaries.flush(None)
            except Exception:  # noqa: BLE001 - closing must not fail on a summary; facts are stored
                log.exception("final summary call failed")
        self.ingestor.close()
        self._store_closed = True
        self.store.close()

    # -- lookups that raise ---------------------------------------------------------------------
    def user(self, user_id: str) -> User:
        self.check_open()
        _check_id(user_id, "user_id")
        found = self.store.get_user(user_id)
        if found is None:
            raise UserNotFoundError(f"user {user_id!r} does not exist; add it with memory.user.add(user_id=...)",
                                    user_id=user_id)
        return found

    def thread(self, thread_id: str) -> Thread:
        self.check_open()
        _check_id(thread_id, "thread_id")
        found = self.store.get_thread(thread_id)
        if found is None:
            raise ThreadNotFoundError(
                f"thread {thread_id!r} does not exist; create it with memory.thread.create(thread_id=..., user_id=...)",
                thread_id=thread_id)
        return found

    # -- users --------------------------------------------------------------------------------
    def add_user(self, user: User) -> User:
        self.check_open()
        check_new_id(user.user_id, "user_id")
        if self.store.get_user(user.user_id) is not None:
            raise AlreadyExistsError(f"user {user.user_id!r} already exists; use memory.user.update",
                                     user_id=user.user_id)
        entity = user_entity(user)
        user = user.model_copy(update={"entity_uuid": entity.uuid})
        with self.store.atomic():
            self.store.add_user(user)
            self.store.save_entity(entity)
        from .ingest.observe import update_summary

        return user.model_copy(update={"summary": update_summary(self.store, user, self.config.summary_questions)})

    def update_user(self, user_id: str, fields: dict[str, Any]) -> User:
        current = self.user(user_id)
        merged = current.model_dump()
        merged.update({k: v for k, v in fields.items() if v is not None})
        merged["updated_at"] = utcnow()
        user = User(**merged)
        entity = user_entity(user)
        with self.store.atomic():
            self.store.update_user(user)
            self.store.save_entity(entity)
        return user

    def list_users(self, limit: int, offset: int) -> list[User]:
        self.check_open()
        check_args(limit=limit, offset=offset)
        return self.store.list_users(limit, offset)

    def _forget(self, user_id: str) -> None:
        """After a delete: drop what reads keep in memory of the user (ids, names, rendered lines)."""
        self.retriever.forget(user_id)
        forget_lines()

    def delete_user(self, user_id: str) -> None:
        self.user(user_id)
        if self.worker:
            self.worker.forget(user_id)
        with self.ingestor.user_lock(user_id):  # not while an inline run of theirs writes
            self.store.delete_user(user_id)
        self._forget(user_id)

    def delete_thread(self, thread_id: str) -> None:
        thread = self.thread(thread_id)
        self.store.delete_thread(thread_id)
        self._forget(thread.user_id)

    def delete_episode(self, user_id: str, uuid: str) -> None:
        user = self.user(user_id)
        _check_id(uuid, "uuid")
        if not self.store.get_episodes(user_id, [uuid]):
            raise EpisodeNotFoundError(f"episode {uuid!r} does not exist for user {user_id!r}",
                                       user_id=user_id, episode_uuid=uuid)
        stated = self.store.get_facts(user_id, self.store.facts_of_episodes(user_id, [uuid]).get(uuid, []))
        facts = set(self.store.delete_episode(user_id, uuid))
        self._forget(user_id)
        from .ingest.forget import tidy_after_forget  # summaries must not repeat what was forgotten

        if tidy_after_forget(self.store, user, [f for f in stated if f.uuid in facts]):
            try:
                self.indexer.drain(user_id)  # rewritten entity summaries: their vectors now, not at the next ingest
            except Exception as exc:  # noqa: BLE001 - the outbox keeps them owed; the delete itself is done
                log.warning("entity vectors stay owed after forgetting episode %s: %s", uuid, exc)

    # -- threads and episodes -----------------------------------------------------------------
    def create_thread(self, thread: Thread) -> Thread:
        self.user(thread.user_id)
        check_new_id(thread.thread_id, "thread_id")
        if self.store.get_thread(thread.thread_id) is not None:
            raise AlreadyExistsError(f"thread {thread.thread_id!r} already exists", thread_id=thread.thread_id)
        self.store.add_thread(thread)
        return thread

    def _check_content(self, content: Any, what: str) -> str:
        return check_content(content, what, self.config.max_content_chars)

    def add_messages(self, thread_id: str, messages: Sequence[Message | dict[str, Any]]) -> list[Message]:
        thread = self.thread(thread_id)
        if isinstance(messages, (str, bytes, Message, dict)) or not isinstance(messages, Sequence):
            raise InvalidInputError("messages must be a list of Message (or dicts with role and content)")
        if not messages:
            return []
        if len(messages) > self.config.max_messages_per_call:
            raise InvalidInputError(f"{len(messages)} messages in one call; the limit is "
                                    f"{self.config.max_messages_per_call}: send them in smaller batches")
        now = utcnow()
        parsed = [check_message(m, f"messages[{i}]") for i, m in enumerate(messages)]
        episodes = []
        for i, m in enumerate(parsed):
            self._check_content(m.content, f"messages[{i}].content")
            created = m.created_at or now
            parsed[i] = m = m.model_copy(update={"created_at": created, "thread_id": thread_id})
            episodes.append(Episode(uuid=m.uuid, user_id=thread.user_id, thread_id=thread_id,
                                    source=EpisodeSource.message, content=m.content, role=m.role, name=m.name,
                                    reference_time=created, ingested_at=now, metadata=m.metadata))
        self.store.add_episodes(episodes)
        self._ingest(thread.user_id, len(episodes))
        return parsed

    def add_episode(self, user_id: str, type: str, data: Any, *, created_at: Any = None,
                    thread_id: str | None = None, name: str | None = None, role: str | None = None,
                    metadata: dict[str, Any] | None = None) -> Episode:
        self.user(user_id)
        if thread_id is not None and self.thread(thread_id).user_id != user_id:
            raise InvalidInputError(f"thread {thread_id!r} belongs to another user", thread_id=thread_id)
        try:
            source = EpisodeSource(type)
        except ValueError:
            raise InvalidInputError(f"type must be 'text', 'json' or 'message', got {type!r}") from None
        if source is EpisodeSource.json:
            data = _json_text(data)
        content = self._check_content(data, "data")
        when = check_time(created_at, "created_at") if created_at is not None else utcnow()
        episode = Episode(user_id=user_id, thread_id=thread_id, source=source, content=content,
                          role=check_role(role) if role else (Role.user if source is EpisodeSource.message else None),
                          name=check_name(name, "name"), reference_time=when, metadata=check_metadata(metadata))
        self.store.add_episodes([episode])
        self._ingest(user_id)
        found = self.store.get_episodes(user_id, [episode.uuid])
        return found[0] if found else episode  # a concurrent delete_episode may have removed it already

    def _ingest(self, user_id: str, count: int = 1) -> None:
        if self.worker:
            self.worker.submit(user_id, count)
        else:  # stored means accepted: if processing fails on storage, they stay pending for the next run
            try:
                self.ingestor.process_user(user_id)
            except StorageError as exc:
                log.warning("stored episodes of %s stay pending (wait_until_processed retries them): %s", user_id, exc)

    def wait_until_processed(self, user_id: str | None, timeout: float | None) -> None:
        self.check_open()
        check_args(user_id=user_id, timeout=timeout)
        if self.worker:
            self.worker.wait(user_id, timeout)
        else:
            for uid in [user_id] if user_id else self.store.users_with_pending():
                self.ingestor.process_user(uid)
        if self.llm is not None:
            self.summaries.flush(user_id)
        self.indexer.drain(user_id)  # raises if the vector index is still down: vectors stay owed

    def retry_failed(self, user_id: str) -> int:
        self.user(user_id)
        failed = self.store.list_episodes(user_id, status="failed", limit=100_000)
        for ep in failed:
            self.store.set_episode_status(user_id, ep.uuid, ep.status.__class__.pending, None)
        self._ingest(user_id)
        return len(failed)

    # -- reads the client serves ------------------------------------------------------------------
    def list_threads(self, user_id: str, limit: int, offset: int) -> list[Thread]:
        self.user(user_id)
        check_args(limit=limit, offset=offset)
        return self.store.list_threads(user_id, limit, offset)

    def messages(self, thread_id: str, last: int | None) -> list[Message]:
        self.thread(thread_id)
        check_args(last=last)
        return [Message(uuid=e.uuid, role=e.role, name=e.name, content=e.content, created_at=e.reference_time,
                        metadata=e.metadata, thread_id=thread_id)
                for e in self.store.thread_messages(thread_id, last=last)]

    def search(self, user_id: str, query: Any, scope: Any, limit: Any, filters: Any, *,
               relevance: bool = False) -> list[SearchResult]:
        """Validate a search request, then run it."""
        self.user(user_id)
        check_args(query=query, search_limit=limit)
        try:
            scope = SearchScope(scope)
        except ValueError:
            raise InvalidInputError(f"scope must be one of {[s.value for s in SearchScope]}, got {scope!r}") from None
        if not isinstance(limit, int) or not 0 < limit <= 1000:
            raise InvalidInputError(f"limit must be a whole number from 1 to 1000, got {limit!r}")
        with switching(self.config.read_switch_interval):
            return self.retriever.search(user_id, query, scope, limit, check_filters(filters),
                                         relevance=relevance is True)

    def episodes(self, user_id: str, *, thread_id: str | None, source: str | None, status: str | None,
                 since: Any, until: Any, limit: int, offset: int) -> list[Episode]:
        self.user(user_id)
        check_args(thread_id=thread_id, source=source, status=status, since=since, until=until, limit=limit,
                   offset=offset)
        return self.store.list_episodes(user_id, thread_id=thread_id, source=source, status=status,
                                        since=_opt_ts(since, "since"), until=_opt_ts(until, "until"),
                                        limit=limit, offset=offset)

    def facts(self, user_id: str, *, thread_id: str | None, relation: str | None, valid_only: bool,
              as_of: Any, since: Any, until: Any, limit: int, offset: int) -> list[Fact]:
        self.user(user_id)
        check_args(thread_id=thread_id, relation=relation, as_of=as_of, since=since, until=until, limit=limit,
                   offset=offset)
        return self.store.list_facts(user_id, thread_id=thread_id, relation=relation, current_only=valid_only,
                                     as_of=_opt_ts(as_of, "as_of"), since=_opt_ts(since, "since"),
                                     until=_opt_ts(until, "until"), limit=limit, offset=offset)

    def entities(self, user_id: str, *, type: str | None, limit: int, offset: int) -> list[Entity]:
        self.user(user_id)
        check_args(type=type, limit=limit, offset=offset)
        return self.store.list_entities(user_id, type=type, limit=limit, offset=offset)

    def observations(self, user_id: str, limit: int) -> list[Observation]:
        self.user(user_id)
        check_args(limit=limit)
        return self.store.list_observations(user_id, limit)


def _opt_ts(value: Any, field: str) -> datetime | None:
    return None if value is None else parse_ts(value, field=field)
