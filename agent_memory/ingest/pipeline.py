"""The ingestion pipeline: pending episodes -> extract -> resolve -> invalidate -> commit -> index -> observe.

Episodes of one user are processed in reference-time order, a batch per transaction.
Ids of derived records are deterministic (uuid5 of the episode and position, or of the
user and name), so a batch that is retried after a crash rewrites the same records and
vectors instead of adding new ones. The pipeline sees only the ``GraphStore`` protocol; the
transaction that writes records also queues their vectors (the outbox), and vectors are
written after it commits (episodes' own vectors precomputed on a second thread, the rest by
the ``Indexer``), so no reader waits for an embedding.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

import numpy as np

from .._time import utcnow
from ..embedding.base import Embedder
from ..embedding.cache import cached
from ..errors import AgentMemoryError, LLMResponseError, ProviderError, StorageError, UserNotFoundError
from ..extraction.base import Extraction, ExtractionContext, Extractor
from ..models import Episode, EpisodeSource, EpisodeStatus, Fact, User
from ..storage.base import KINDS, GraphStore, Kind, claim_user
from ..text import normalize_name
from .graph_writes import Batch, Draft, GraphWriter, Judge, entity_id, user_entity
from .indexer import (
    CONTEXT_WEIGHT,
    EpisodeVectors,
    Indexer,
    contextual_vectors,
    entity_text,
    episode_context,
    episode_text,
)
from .observe import update_observations, update_summary

__all__ = ["CONTEXT_WEIGHT", "Ingestor", "Judge", "entity_id", "entity_text", "episode_context", "episode_text",
           "user_entity"]

log = logging.getLogger(__name__)
Summarizer = Callable[[User, list[Fact], list[Fact], list[str]], None]  # (user, new, closed, episodes)
_ENTITIES: tuple[Kind, ...] = ("entity",)


def _quietly(first: Callable[[], None] | None, fn: Callable[..., Any], *args: Any) -> None:
    """Run ``first`` (a wait), then ``fn`` for its side effect (a warmed cache); a failure is the real
    run's to meet and report."""
    try:
        if first is not None:
            first()
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - only a cache stays cold
        log.debug("warming failed: %s", exc)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _Ahead:
    """The next batch of a run: read, and its episode vectors started, once (when the current one commits)."""

    def __init__(self, fetch: Callable[[], list[Episode]],
                 start: Callable[[list[Episode]], Future[np.ndarray]],
                 then: Callable[[list[Episode]], None]) -> None:
        self._fetch, self._start, self._then = fetch, start, then
        self.episodes: list[Episode] = []
        self.vectors: Future[np.ndarray] | None = None
        self._ready = False

    def prepare(self) -> None:
        if not self._ready:
            self._ready = True
            self.episodes = self._fetch()
            self.vectors = self._start(self.episodes) if self.episodes else None
            self._then(self.episodes)


class Ingestor:
    """Runs the pipeline for one user at a time; safe to call from several threads."""

    def __init__(self, store: GraphStore, embedder: Embedder, extractor: Extractor,
                 json_extractor: Extractor, *, batch_size: int = 64, merge_threshold: float = 0.93,
                 judge: Judge | None = None, summarizer: Summarizer | None = None,
                 indexer: Indexer | None = None, vector_flush: int = 256) -> None:
        # each distinct text reaches the model once: names, facts, observations and the previous message
        self.store, self.embedder = store, cached(embedder)
        self.indexer = indexer or Indexer(store, self.embedder)
        self.summarizer = summarizer
        self.extractor, self.json_extractor = extractor, json_extractor
        self.batch_size = batch_size
        # the judge and the merge threshold are the writer's: one copy of each
        self.writer = GraphWriter(store, merge_threshold=merge_threshold, judge=judge)
        self.vector_flush = vector_flush  # a backlog's episode vectors are stored this many at a time
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agent-memory-embed")
        self._user_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def close(self) -> None:
        """Stop the embedding thread."""
        self._pool.shutdown(wait=True)

    def user_lock(self, user_id: str) -> threading.Lock:
        """The lock a run of this user holds (a delete takes it too, so it never races a run)."""
        with self._locks_guard:
            return self._user_locks.setdefault(user_id, threading.Lock())

    def process_user(self, user_id: str, between: Callable[[], None] | None = None,
                     under_way: Callable[[], None] | None = None) -> int:
        """Process every pending episode of the user; returns how many were handled.

        ``between`` is called before each batch after the first (the background worker lets reads
        in flight finish there); ``under_way`` once the last batch's episode vectors are under way (the
        background worker then warms the next user's, see ``warm``)."""
        with self.user_lock(user_id), claim_user(self.store, user_id):  # one process at a time per user
            user = self.store.get_user(user_id)
            if user is None:
                raise UserNotFoundError(f"user {user_id!r} does not exist", user_id=user_id)
            done, touched, changed, seen = 0, set(), {}, []
            # only what was pending when the run started: episodes arriving meanwhile wait for the next
            # run (and its debounce window) instead of being chased here one tiny batch at a time
            started = utcnow()

            def fetch() -> list[Episode]:
                return [e for e in self.store.pending_episodes(user_id, limit=self.batch_size)
                        if e.ingested_at <= started]

            last_started = False

            def look_ahead(started_batch: list[Episode]) -> None:
                """Keep the embedding thread a batch ahead: once a batch's vectors are started, warm the
                next batch's (or, after the last batch, the next user's)."""
                nonlocal last_started
                if len(started_batch) >= self.batch_size:
                    self.warm(user_id, skip=len(started_batch), first=between)
                elif not last_started:
                    last_started = True
                    if under_way is not None:
                        under_way()

            pending = fetch()
            vectors = self._start_vectors(pending) if pending else None
            look_ahead(pending)
            owed = EpisodeVectors()  # computed episode vectors, stored a few batches at a time
            try:
                while pending:
                    # once a batch commits, the next one is read and its episode vectors start on the second
                    # thread, while this thread indexes the batch, then extracts the next
                    ahead = _Ahead(fetch, self._start_vectors, look_ahead)
                    batch = self._process_isolated(user, pending, vectors, ahead.prepare)
                    ahead.prepare()
                    owed.batches += batch.vectors
                    touched |= batch.touched
                    changed.update(batch.facts)
                    seen += [e.uuid for e in pending]
                    done += len(pending)
                    pending, vectors = ahead.episodes, ahead.vectors
                    if pending:
                        if len(owed) >= self.vector_flush:
                            self._flush(user_id, owed)
                        else:  # the next batch's names are matched against these entities
                            self.index_owed(user_id, kinds=_ENTITIES)
                        if between is not None:
                            between()
            finally:  # also when the run fails: what it committed gets its vectors all the same
                self._flush(user_id, owed)
            if done:
                update_observations(self.store, user, touched)
                if self.summarizer is None:
                    update_summary(self.store, user)
                else:  # learned: current facts first stated in this run (not old ones merged with a repeat)
                    facts, run = list(changed.values()), set(seen)
                    learned = [f for f in facts if f.is_current and (not f.episodes or f.episodes[0] in run)]
                    self.summarizer(self.store.get_user(user_id) or user, learned,
                                    [f for f in facts if not f.is_current], seen)
                self.index_owed(user_id)
            return done

    def warm(self, user_id: str, skip: int = 0, first: Callable[[], None] | None = None) -> None:
        """Queue the episode vectors of a batch of the user's pending episodes (after the first ``skip``)
        on the embedding thread, into the embed-once cache, so that they are ready when that batch
        starts. A run warms its next batch while it processes one, and the background worker the next
        user's first batch during a run's last: the embedding thread then never waits for a run's
        tail (indexing, observations, summary) or for the next batch's read. Reads only: a batch
        formed otherwise (new messages, a delete) just finds fewer texts cached. The texts are the
        ones that batch embeds, in the same call, so the vectors are the same either way. ``first`` runs
        on the embedding thread before the model does (the background worker's reads-first hold: work
        done ahead of time yields to a read in flight, as a batch does)."""
        try:
            pending = self.store.pending_episodes(user_id, limit=skip + self.batch_size)[skip:]
            if pending:
                self._pool.submit(_quietly, first, contextual_vectors, self._embed, pending,
                                  episode_context(self.store, pending))
        except Exception as exc:  # noqa: BLE001 - warming never fails a run: a store error, a pool shut down
            log.debug("could not warm the vectors of %s: %s", user_id, exc)

    def _flush(self, user_id: str, owed: EpisodeVectors) -> None:
        """Store the episode vectors owed, then everything else the user's records owe (one write a kind)."""
        if owed.batches:
            owed.flush(self.store, user_id, self._collect)
            self.index_owed(user_id)

    def _process_isolated(self, user: User, episodes: list[Episode], vectors: Future[np.ndarray] | None = None,
                          committed: Callable[[], None] | None = None) -> Batch:
        """A batch; if it fails as a whole (not the store), each episode alone, so that one that fails
        is marked failed with its error and the others go through: a bad episode never blocks the queue.
        ``vectors``: the batch's episode vectors, already started; ``committed`` is called once the
        batch's records are committed (the run then reads the next batch)."""
        try:
            return self._process_batch(user, episodes, vectors, committed)
        except StorageError:
            raise
        except Exception as exc:  # noqa: BLE001 - recorded on the episode below, retryable
            if len(episodes) == 1:
                log.exception("processing failed for episode %s", episodes[0].uuid)
                self.store.set_episode_status(user.user_id, episodes[0].uuid, EpisodeStatus.failed, _describe(exc))
                return Batch()
        merged = Batch()
        for ep in episodes:
            one = self._process_isolated(user, [ep])
            merged.facts.update(one.facts)
            merged.entities.update(one.entities)
            merged.touched |= one.touched
            merged.vectors += one.vectors
            self.index_owed(user.user_id, kinds=_ENTITIES)  # the next episode's names match these
        return merged

    def index_owed(self, user_id: str, kinds: Collection[Kind] = KINDS) -> None:
        """Write the vectors the user's records owe; if the index or embedder is down, they stay queued
        (the records are committed: nothing is lost) and the next run or ``wait_until_processed`` retries."""
        try:
            self.indexer.drain(user_id, kinds=kinds)
        except AgentMemoryError as exc:  # the records are committed; never fail (or redo) a batch for this
            log.warning("vectors of %s stay queued for the next run: %s", user_id, exc)

    # -- extraction -------------------------------------------------------------------------
    def _context(self, user: User) -> ExtractionContext:
        aliases = [a for a in (user.first_name, user.user_id) if a]
        return ExtractionContext(user_id=user.user_id, user_name=user.display_name, user_aliases=aliases)

    def _extract(self, user: User, episodes: Sequence[Episode]) -> dict[str, Extraction | Exception]:
        ctx = self._context(user)
        out: dict[str, Extraction | Exception] = {}
        for extractor, group in (
            (self.json_extractor, [e for e in episodes if e.source == EpisodeSource.json]),
            (self.extractor, [e for e in episodes if e.source != EpisodeSource.json]),
        ):
            # an extractor that calls a model per chunk gets each chunk's own nearby context, and a
            # failed chunk fails only its episodes (the other chunks' answers are paid for: keep them)
            chunker = getattr(extractor, "chunks", None)
            for part in (chunker(group) if callable(chunker) else [group]):
                gctx = self._nearby(user, part, ctx) if getattr(extractor, "wants_context", False) else ctx
                try:
                    out.update({x.episode_uuid: x for x in extractor.extract(part, gctx)})
                except Exception as exc:
                    if isinstance(exc, (ProviderError, LLMResponseError)) or not getattr(
                            extractor, "retry_individually", True):  # a model failed the chunk: keep it, retryable
                        out.update({ep.uuid: exc for ep in part})
                        continue
                    # one bad episode must not sink the batch: retry one by one
                    for ep in part:
                        try:
                            out.update({x.episode_uuid: x for x in extractor.extract([ep], gctx)})
                        except Exception as err:  # noqa: BLE001 - recorded on the episode
                            out[ep.uuid] = err
        return out

    def _nearby(self, user: User, episodes: Sequence[Episode], ctx: ExtractionContext) -> ExtractionContext:
        """The user's entities and current facts closest (BM25) to the batch, for a model to resolve against."""
        text = " ".join(e.content for e in episodes)[:4000]
        entity_ids = [u for u, _ in self.store.search_text(user.user_id, "entity", text, 30)]
        fact_ids = [u for u, _ in self.store.search_text(user.user_id, "fact", text, 60)]
        names = {user.display_name.casefold(): user.display_name}  # the user's own entity matches too: once
        for ent in self.store.get_entities(user.user_id, entity_ids):
            names.setdefault(ent.name.casefold(), ent.name)
        facts = list(dict.fromkeys(f.fact for f in self.store.get_facts(user.user_id, fact_ids) if f.is_current))[:30]
        return ctx.model_copy(update={"known_entities": list(names.values()), "known_facts": facts})

    # -- one batch ----------------------------------------------------------------------------
    def _start_vectors(self, episodes: list[Episode]) -> Future[np.ndarray]:
        """Episode vectors need no extraction: compute them on the second core while the extractor runs.
        (What each message answers is read here: the store is not for the pool's thread.)"""
        return self._pool.submit(contextual_vectors, self._embed, episodes, episode_context(self.store, episodes))

    def _process_batch(self, user: User, episodes: list[Episode], vectors: Future[np.ndarray] | None = None,
                       committed: Callable[[], None] | None = None) -> Batch:
        episode_vectors = vectors or self._start_vectors(episodes)
        extractions = self._extract(user, episodes)
        batch = Batch()
        self._embed_new_names(user, [x for x in extractions.values() if isinstance(x, Extraction)], batch)
        now = utcnow()
        drafted: list[tuple[Episode, list[Draft]]] = []
        with self.store.atomic():  # entities and mentions: deterministic ids, so a rerun rewrites them
            for ep in episodes:
                result = extractions.get(ep.uuid) or Extraction(episode_uuid=ep.uuid)
                if isinstance(result, Exception):
                    log.warning("extraction failed for episode %s: %s", ep.uuid, result)
                    self.store.set_episode_status(ep.user_id, ep.uuid, EpisodeStatus.failed, _describe(result))
                    continue
                with self._episode_guard(ep):
                    drafted.append((ep, self.writer.draft(user, ep, result, batch)))
        # a model call: outside any transaction
        judgements = self.writer.judge_batch(user, drafted) if self.writer.judge else {}
        with self.store.atomic():
            for ep, drafts in drafted:
                with self._episode_guard(ep):
                    for draft in drafts:
                        self.writer.commit(user, ep, draft, batch, now, judgements.get(draft.fact.uuid))
                    self.store.set_episode_status(ep.user_id, ep.uuid, EpisodeStatus.processed)
        if committed is not None:
            committed()
        # committed: the records and their vector tasks. The episodes' vectors, computed meanwhile, are
        # stored by the run (a few batches at a time); until then their tasks stay in the outbox.
        batch.vectors.append(([e.uuid for e in episodes], episode_vectors))
        return batch

    def _collect(self, vectors: Future[np.ndarray]) -> np.ndarray:
        """The batch's episode vectors: while the second thread computes them, this one runs some of
        their model runs too (``help``, where the embedder has it) instead of waiting idle."""
        helper = getattr(self.embedder, "help", None)
        while callable(helper) and not vectors.done():
            if not helper():  # nothing to take (yet): the run is being planned, or is in its last pass
                wait([vectors], timeout=0.002)
        return vectors.result()

    @contextmanager
    def _episode_guard(self, ep: Episode) -> Iterator[None]:
        """A savepoint per episode: a bug on one marks it failed (retryable) and spares the rest."""
        try:
            with self.store.atomic():
                yield
        except StorageError:
            raise
        except Exception as exc:  # noqa: BLE001 - recorded on the episode, retryable
            log.exception("processing failed for episode %s", ep.uuid)
            self.store.set_episode_status(ep.user_id, ep.uuid, EpisodeStatus.failed, _describe(exc))

    def _embed_new_names(self, user: User, extractions: list[Extraction], batch: Batch) -> None:
        """The nearest known entity of every name the graph does not know (one embedding call, one
        query), for similarity-based merging."""
        if self.writer.merge_threshold >= 1.0 or not self.store.count_vectors(user.user_id, "entity"):
            return
        names = {n for x in extractions for n in [*(e.name for e in x.entities),
                                                   *(f.source for f in x.facts), *(f.target for f in x.facts)]}
        known = self.store.entities_by_names(user.user_id, sorted(names))
        unknown = sorted(n for n in names if normalize_name(n) not in known and normalize_name(n))
        if unknown:
            hits = self.store.search_vectors(user.user_id, "entity", self._embed(unknown), 1)
            batch.nearest_entity = {normalize_name(n): h[0] for n, h in zip(unknown, hits) if h}

    # -- vectors --------------------------------------------------------------------------------
    def _embed(self, texts: list[str]) -> np.ndarray:
        return self.indexer.embed(texts)
