"""``Memory`` and ``AsyncMemory``: the public API, in namespaces ``user``, ``thread``, ``graph``, ``context``.

Setup::

    from agent_memory import Memory, Message
    memory = Memory()                        # ./.agent_memory, or AGENT_MEMORY_HOME
    memory.user.add(user_id="jane", first_name="Jane", last_name="Smith")
    memory.thread.create(thread_id="t1", user_id="jane")
    memory.thread.add_messages("t1", messages=[Message(role="user", name="Jane Smith", content="...")])
    ctx = memory.thread.get_user_context(thread_id="t1")
    print(ctx.context)

Async: ``AsyncMemory`` has the same namespaces and method names, each a coroutine. The logic
is written once (sync, in ``_core``); the async twin runs each call in a worker thread, so an
event loop is never blocked by SQLite, Chroma or the local models.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from ._core import Core
from .config import MemoryConfig
from .embedding.base import Embedder
from .errors import InvalidInputError
from .extraction.base import Extractor
from .models import (
    ContextTemplate,
    Entity,
    Episode,
    Fact,
    LLMUsage,
    Message,
    Observation,
    SearchResult,
    SearchScope,
    Thread,
    User,
    UserContext,
)
from .retrieval.search import SearchFilters
from .storage.sqlite import SQLiteStore
from .storage.vectors import VectorIndex
from .validation import check_args, check_filters

__all__ = ["AsyncMemory", "Memory"]

T = TypeVar("T")


def _opt_ts(value: Any, field: str) -> datetime | None:
    from ._time import parse_ts

    return None if value is None else parse_ts(value, field=field)


class _Namespace:
    def __init__(self, core: Core) -> None:
        self._core = core


class UserAPI(_Namespace):
    """Users: each owns one graph."""

    def add(self, *, user_id: str, email: str | None = None, first_name: str | None = None,
            last_name: str | None = None, metadata: dict[str, Any] | None = None) -> User:
        """Create a user (and the entity that stands for them). Raises AlreadyExistsError if taken."""
        return self._core.add_user(User(user_id=user_id, email=email, first_name=first_name,
                                        last_name=last_name, metadata=metadata or {}))

    def get(self, user_id: str) -> User:
        """The user, with their current summary. Raises UserNotFoundError."""
        return self._core.user(user_id)

    def update(self, user_id: str, *, email: str | None = None, first_name: str | None = None,
               last_name: str | None = None, metadata: dict[str, Any] | None = None) -> User:
        """Change the given fields; the others stay."""
        return self._core.update_user(user_id, {"email": email, "first_name": first_name,
                                                "last_name": last_name, "metadata": metadata})

    def list(self, *, limit: int = 100, offset: int = 0) -> list[User]:
        """Users in creation order."""
        self._core.check_open()
        check_args(limit=limit, offset=offset)
        return self._core.store.list_users(limit, offset)

    def delete(self, user_id: str) -> None:
        """Delete the user and every record, vector and file entry of theirs."""
        self._core.delete_user(user_id)


class ThreadAPI(_Namespace):
    """Threads: conversations that write into their user's graph."""

    def create(self, *, thread_id: str, user_id: str, metadata: dict[str, Any] | None = None) -> Thread:
        """Start a thread for a user."""
        return self._core.create_thread(Thread(thread_id=thread_id, user_id=user_id, metadata=metadata or {}))

    def get(self, thread_id: str) -> Thread:
        """The thread. Raises ThreadNotFoundError."""
        return self._core.thread(thread_id)

    def list(self, *, user_id: str, limit: int = 100, offset: int = 0) -> list[Thread]:
        """A user's threads, oldest first."""
        self._core.user(user_id)
        check_args(limit=limit, offset=offset)
        return self._core.store.list_threads(user_id, limit, offset)

    def delete(self, thread_id: str) -> None:
        """Delete the thread and its messages; what the graph learned from them stays."""
        self._core.delete_thread(thread_id)

    def add_messages(self, thread_id: str, *, messages: Sequence[Message | dict[str, Any]]) -> list[Message]:
        """Persist messages as episodes (all or none), then process them. Returns them with ids and times."""
        return self._core.add_messages(thread_id, messages)

    def get_messages(self, thread_id: str, *, last: int | None = None) -> list[Message]:
        """The thread's messages in order (the last ``last`` if given)."""
        self._core.thread(thread_id)
        check_args(last=last)
        return [Message(uuid=e.uuid, role=e.role, name=e.name, content=e.content, created_at=e.reference_time,
                        metadata=e.metadata, thread_id=thread_id)
                for e in self._core.store.thread_messages(thread_id, last=last)]

    def get_user_context(self, thread_id: str, *, template_id: str | None = None,
                         token_budget: int | None = None) -> UserContext:
        """The context block for the thread's next reply, from the whole user graph.

        The query is the thread's last few messages; ``template_id`` picks a stored template.
        """
        thread = self._core.thread(thread_id)
        query, recent = self._core.thread_query(thread_id)
        return self._core.build_context(thread.user_id, query, template_id=template_id,
                                        token_budget=token_budget, thread_id=thread_id, exclude=recent)


class GraphAPI(_Namespace):
    """The user's temporal graph: add raw data, search, list episodes, facts, entities."""

    def add(self, *, user_id: str, type: str, data: str | dict[str, Any], created_at: str | datetime | None = None,
            thread_id: str | None = None, name: str | None = None, role: str | None = None,
            metadata: dict[str, Any] | None = None) -> Episode:
        """Add text, a JSON business event, or a message as an episode, then process it."""
        return self._core.add_episode(user_id, type, data, created_at=created_at, thread_id=thread_id,
                                      name=name, role=role, metadata=metadata)

    def search(self, *, user_id: str, query: str, scope: str | SearchScope = "edges", limit: int = 10,
               filters: SearchFilters | dict[str, Any] | None = None, relevance: bool = False) -> list[SearchResult]:
        """Hybrid search of one scope: edges (facts), nodes (entities), episodes or observations.

        ``relevance=True`` also sets each hit's ``relevance``: the cosine of query and hit text in [0, 1],
        comparable across queries and scopes (costs one embedding batch of the hits).
        """
        self._core.user(user_id)
        check_args(query=query, search_limit=limit)
        try:
            scope = SearchScope(scope)
        except ValueError:
            raise InvalidInputError(f"scope must be one of {[s.value for s in SearchScope]}, got {scope!r}") from None
        if not isinstance(limit, int) or not 0 < limit <= 1000:
            raise InvalidInputError(f"limit must be a whole number from 1 to 1000, got {limit!r}")
        filters = check_filters(filters)
        return self._core.retriever.search(user_id, query, scope, limit, filters, relevance=relevance is True)

    def episodes(self, *, user_id: str, thread_id: str | None = None, source: str | None = None,
                 status: str | None = None, since: str | datetime | None = None,
                 until: str | datetime | None = None, limit: int = 100, offset: int = 0) -> list[Episode]:
        """Episodes, filterable by thread, source, status and time; oldest first."""
        self._core.user(user_id)
        check_args(thread_id=thread_id, source=source, status=status, since=since, until=until, limit=limit,
                   offset=offset)
        return self._core.store.list_episodes(user_id, thread_id=thread_id, source=source, status=status,
                                              since=_opt_ts(since, "since"), until=_opt_ts(until, "until"),
                                              limit=limit, offset=offset)

    def facts(self, *, user_id: str, thread_id: str | None = None, relation: str | None = None,
              valid_only: bool = False, as_of: str | datetime | None = None, since: str | datetime | None = None,
              until: str | datetime | None = None, limit: int = 100, offset: int = 0) -> list[Fact]:
        """Facts, filterable by thread, relation, validity, and ``as_of`` (what was true then)."""
        self._core.user(user_id)
        check_args(thread_id=thread_id, relation=relation, as_of=as_of, since=since, until=until, limit=limit,
                   offset=offset)
        return self._core.store.list_facts(user_id, thread_id=thread_id, relation=relation, current_only=valid_only,
                                           as_of=_opt_ts(as_of, "as_of"), since=_opt_ts(since, "since"),
                                           until=_opt_ts(until, "until"), limit=limit, offset=offset)

    def entities(self, *, user_id: str, type: str | None = None, limit: int = 100, offset: int = 0) -> list[Entity]:
        """Entities of the user's graph, optionally of one type."""
        self._core.user(user_id)
        check_args(type=type, limit=limit, offset=offset)
        return self._core.store.list_entities(user_id, type=type, limit=limit, offset=offset)

    def observations(self, *, user_id: str, limit: int = 100) -> list[Observation]:
        """Patterns derived across the user's sessions, strongest first."""
        self._core.user(user_id)
        check_args(limit=limit)
        return self._core.store.list_observations(user_id, limit)

    def delete_episode(self, *, user_id: str, uuid: str) -> None:
        """Forget one episode: its text, vectors and links, and the facts it alone stated."""
        self._core.delete_episode(user_id, uuid)

    def usage(self, *, user_id: str, episode_uuid: str | None = None) -> LLMUsage:
        """Model calls, tokens and latency spent on the user's episodes (or one episode's share)."""
        return self._core.usage(user_id, episode_uuid)

    def retry_failed(self, *, user_id: str) -> int:
        """Queue failed episodes again; returns how many."""
        return self._core.retry_failed(user_id)


class ContextAPI(_Namespace):
    """Context templates, and context for a free-form query."""

    def create_context_template(self, *, template_id: str, template: str) -> ContextTemplate:
        """Store a template; unknown placeholders fail here, not at read time."""
        return self._core.save_template(template_id, template, create=True)

    def update_context_template(self, *, template_id: str, template: str) -> ContextTemplate:
        """Replace a template's text (its version goes up by one)."""
        return self._core.save_template(template_id, template, create=False)

    def get_context_template(self, template_id: str) -> ContextTemplate:
        """A stored template. Raises TemplateNotFoundError."""
        self._core.template_text(template_id)
        return self._core.store.get_template(template_id)  # type: ignore[return-value]

    def list_context_templates(self) -> list[ContextTemplate]:
        """Every stored template."""
        self._core.check_open()
        return self._core.store.list_templates()

    def delete_context_template(self, template_id: str) -> None:
        """Remove a template."""
        self._core.template_text(template_id)
        self._core.store.delete_template(template_id)

    def get(self, *, user_id: str, query: str, template_id: str | None = None,
            token_budget: int | None = None) -> UserContext:
        """The context block for an arbitrary query against the user's graph."""
        check_args(query=query)
        return self._core.build_context(user_id, query, template_id=template_id, token_budget=token_budget)


class _BaseMemory:
    """Builds the core from a home directory or config; shared by both facades.

    ``llm``: ``"auto"`` (default) uses an OpenAI-compatible model when ``OPENAI_API_KEY``,
    ``OPENAI_BASE_URL`` or ``AZURE_OPENAI_ENDPOINT`` is set, else stays offline; pass an
    ``agent_memory.llm.OpenAILLM`` to choose, or ``None``/``False`` to stay offline.
    ``ontology``: custom entity and edge types for the model's extraction.
    """

    def __init__(self, home: str | Path | None = None, *, config: MemoryConfig | None = None,
                 embedder: Embedder | None = None, extractor: Extractor | None = None,
                 store: SQLiteStore | None = None, vector_index: VectorIndex | None = None,
                 json_extractor: Extractor | None = None, llm: Any = "auto", ontology: Any = None) -> None:
        if config is None:
            config = MemoryConfig.from_env(home=Path(home) if home is not None else None)
        elif home is not None:
            config = config.model_copy(update={"home": Path(home)})
        self._core = Core(config, store=store, vector_index=vector_index, embedder=embedder,
                          extractor=extractor, json_extractor=json_extractor, llm=llm, ontology=ontology)
        self.config = self._core.config  # as used: a model switches ingestion to the background

    @property
    def llm(self) -> Any:
        """The model client ingestion uses (e.g. an ``OpenAILLM``), or None when offline."""
        return self._core.llm

    @classmethod
    def ephemeral(cls: type[T], **kwargs: Any) -> T:
        """An in-memory Memory (SQLite ``:memory:`` and an exact vector index): for tests and notebooks."""
        config = kwargs.pop("config", None) or MemoryConfig(home=None, vector_backend="exact")
        return cls(config=config.model_copy(update={"home": None, "vector_backend": "exact"}), **kwargs)


class Memory(_BaseMemory):
    """Persistent per-user memory (sync). A context manager; ``close()`` releases files."""

    def __init__(self, home: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(home, **kwargs)
        self.user = UserAPI(self._core)
        self.thread = ThreadAPI(self._core)
        self.graph = GraphAPI(self._core)
        self.context = ContextAPI(self._core)

    def wait_until_processed(self, user_id: str | None = None, *, timeout: float | None = None) -> None:
        """Block until pending episodes (of one user, or all) are processed."""
        self._core.wait_until_processed(user_id, timeout)

    def close(self) -> None:
        """Stop the worker and close the database and vector index."""
        self._core.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _async_method(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def method(self: _AsyncNamespace, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self._sync, name), *args, **kwargs)

    return method


class _AsyncNamespace:
    def __init__(self, sync: _Namespace) -> None:
        self._sync = sync


def _async_twin(sync_cls: type[_Namespace]) -> type[_AsyncNamespace]:
    """An async class with a coroutine for every public method of ``sync_cls`` (same names, same docs)."""
    methods = {name: _async_method(name, fn) for name, fn in vars(sync_cls).items()
               if inspect.isfunction(fn) and not name.startswith("_")}
    methods["__doc__"] = f"Async twin of {sync_cls.__name__}: every method is a coroutine."
    return type(f"Async{sync_cls.__name__}", (_AsyncNamespace,), methods)


AsyncUserAPI = _async_twin(UserAPI)
AsyncThreadAPI = _async_twin(ThreadAPI)
AsyncGraphAPI = _async_twin(GraphAPI)
AsyncContextAPI = _async_twin(ContextAPI)


class AsyncMemory(_BaseMemory):
    """The async twin of ``Memory``: same namespaces and names, each method awaitable."""

    def __init__(self, home: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(home, **kwargs)
        self.user: Any = AsyncUserAPI(UserAPI(self._core))
        self.thread: Any = AsyncThreadAPI(ThreadAPI(self._core))
        self.graph: Any = AsyncGraphAPI(GraphAPI(self._core))
        self.context: Any = AsyncContextAPI(ContextAPI(self._core))

    async def wait_until_processed(self, user_id: str | None = None, *, timeout: float | None = None) -> None:
        """Wait until pending episodes (of one user, or all) are processed."""
        await asyncio.to_thread(self._core.wait_until_processed, user_id, timeout)

    async def close(self) -> None:
        """Stop the worker and close the database and vector index."""
        await asyncio.to_thread(self._core.close)

    async def __aenter__(self) -> AsyncMemory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
