"""``AsyncMemory``: the async twin of ``Memory``, with the same namespaces and method names.

Each method is a coroutine that runs the sync namespace's method in a worker thread
(``asyncio.to_thread``), so the logic is written once (in ``service``) and an event loop is never
blocked by SQLite, Chroma, PostgreSQL or the local models.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._facade import MemoryBase
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

if TYPE_CHECKING:  # imported at run time by AsyncMemory (client imports this module)
    from .client import ContextAPI, GraphAPI, ThreadAPI, UserAPI

__all__ = ["AsyncContextAPI", "AsyncGraphAPI", "AsyncMemory", "AsyncThreadAPI", "AsyncUserAPI"]


class _AsyncNamespace:
    def __init__(self, sync: Any) -> None:
        self._sync = sync


class AsyncUserAPI(_AsyncNamespace):
    """Async twin of ``UserAPI``: the same methods, each a coroutine run in a worker thread."""

    _sync: UserAPI

    async def add(self, *, user_id: str, email: str | None = None, first_name: str | None = None,
                  last_name: str | None = None, metadata: dict[str, Any] | None = None) -> User:
        """Create a user (and the entity that stands for them). Raises AlreadyExistsError if taken."""
        return await asyncio.to_thread(self._sync.add, user_id=user_id, email=email, first_name=first_name,
                                       last_name=last_name, metadata=metadata)

    async def get(self, user_id: str) -> User:
        """The user, with their current summary. Raises UserNotFoundError."""
        return await asyncio.to_thread(self._sync.get, user_id)

    async def update(self, user_id: str, *, email: str | None = None, first_name: str | None = None,
                     last_name: str | None = None, metadata: dict[str, Any] | None = None) -> User:
        """Change the given fields; the others stay."""
        return await asyncio.to_thread(self._sync.update, user_id, email=email, first_name=first_name,
                                       last_name=last_name, metadata=metadata)

    async def list(self, *, limit: int = 100, offset: int = 0) -> list[User]:
        """Users in creation order."""
        return await asyncio.to_thread(self._sync.list, limit=limit, offset=offset)

    async def delete(self, user_id: str) -> None:
        """Delete the user and every record, vector and file entry of theirs."""
        return await asyncio.to_thread(self._sync.delete, user_id)


class AsyncThreadAPI(_AsyncNamespace):
    """Async twin of ``ThreadAPI``: the same methods, each a coroutine run in a worker thread."""

    _sync: ThreadAPI

    async def create(self, *, thread_id: str, user_id: str, metadata: dict[str, Any] | None = None) -> Thread:
        """Start a thread for a user."""
        return await asyncio.to_thread(self._sync.create, thread_id=thread_id, user_id=user_id, metadata=metadata)

    async def get(self, thread_id: str) -> Thread:
        """The thread. Raises ThreadNotFoundError."""
        return await asyncio.to_thread(self._sync.get, thread_id)

    async def list(self, *, user_id: str, limit: int = 100, offset: int = 0) -> list[Thread]:
        """A user's threads, oldest first."""
        return await asyncio.to_thread(self._sync.list, user_id=user_id, limit=limit, offset=offset)

    async def delete(self, thread_id: str) -> None:
        """Delete the thread and its messages; what the graph learned from them stays."""
        return await asyncio.to_thread(self._sync.delete, thread_id)

    async def add_messages(self, thread_id: str, *,
                           messages: Sequence[Message | dict[str, Any]]) -> builtins.list[Message]:
        """Persist messages as episodes (all or none), then process them. Returns them with ids and times."""
        return await asyncio.to_thread(self._sync.add_messages, thread_id, messages=messages)

    async def get_messages(self, thread_id: str, *, last: int | None = None) -> builtins.list[Message]:
        """The thread's messages in order (the last ``last`` if given)."""
        return await asyncio.to_thread(self._sync.get_messages, thread_id, last=last)

    async def get_user_context(self, thread_id: str, *, template_id: str | None = None,
                               token_budget: int | None = None) -> UserContext:
        """The context block for the thread's next reply, from the whole user graph."""
        return await asyncio.to_thread(self._sync.get_user_context, thread_id, template_id=template_id,
                                       token_budget=token_budget)


class AsyncGraphAPI(_AsyncNamespace):
    """Async twin of ``GraphAPI``: the same methods, each a coroutine run in a worker thread."""

    _sync: GraphAPI

    async def add(self, *, user_id: str, type: str, data: str | dict[str, Any],
                  created_at: str | datetime | None = None, thread_id: str | None = None,
                  name: str | None = None, role: str | None = None,
                  metadata: dict[str, Any] | None = None) -> Episode:
        """Add text, a JSON business event, or a message as an episode, then process it."""
        return await asyncio.to_thread(self._sync.add, user_id=user_id, type=type, data=data, created_at=created_at,
                                       thread_id=thread_id, name=name, role=role, metadata=metadata)

    async def search(self, *, user_id: str, query: str, scope: str | SearchScope = "edges", limit: int = 10,
                     filters: SearchFilters | dict[str, Any] | None = None,
                     relevance: bool = False) -> list[SearchResult]:
        """Hybrid search of one scope (``relevance=True``: also the calibrated relevance of each hit)."""
        return await asyncio.to_thread(self._sync.search, user_id=user_id, query=query, scope=scope, limit=limit,
                                       filters=filters, relevance=relevance)

    async def episodes(self, *, user_id: str, thread_id: str | None = None, source: str | None = None,
                       status: str | None = None, since: str | datetime | None = None,
                       until: str | datetime | None = None, limit: int = 100, offset: int = 0) -> list[Episode]:
        """Episodes, filterable by thread, source, status and time; oldest first."""
        return await asyncio.to_thread(self._sync.episodes, user_id=user_id, thread_id=thread_id, source=source,
                                       status=status, since=since, until=until, limit=limit, offset=offset)

    async def facts(self, *, user_id: str, thread_id: str | None = None, relation: str | None = None,
                    valid_only: bool = False, as_of: str | datetime | None = None, since: str | datetime | None = None,
                    until: str | datetime | None = None, limit: int = 100, offset: int = 0) -> list[Fact]:
        """Facts, filterable by thread, relation, validity, and ``as_of`` (what was true then)."""
        return await asyncio.to_thread(self._sync.facts, user_id=user_id, thread_id=thread_id, relation=relation,
                                       valid_only=valid_only, as_of=as_of, since=since, until=until, limit=limit,
                                       offset=offset)

    async def entities(self, *, user_id: str, type: str | None = None, limit: int = 100,
                       offset: int = 0) -> list[Entity]:
        """Entities of the user's graph, optionally of one type."""
        return await asyncio.to_thread(self._sync.entities, user_id=user_id, type=type, limit=limit, offset=offset)

    async def observations(self, *, user_id: str, limit: int = 100) -> list[Observation]:
        """Patterns derived across the user's sessions, strongest first."""
        return await asyncio.to_thread(self._sync.observations, user_id=user_id, limit=limit)

    async def delete_episode(self, *, user_id: str, uuid: str) -> None:
        """Forget one episode: its text, vectors and links, and the facts it alone stated."""
        return await asyncio.to_thread(self._sync.delete_episode, user_id=user_id, uuid=uuid)

    async def usage(self, *, user_id: str, episode_uuid: str | None = None) -> LLMUsage:
        """Model calls, tokens and latency spent on the user's episodes (or one episode's share)."""
        return await asyncio.to_thread(self._sync.usage, user_id=user_id, episode_uuid=episode_uuid)

    async def retry_failed(self, *, user_id: str) -> int:
        """Queue failed episodes again; returns how many."""
        return await asyncio.to_thread(self._sync.retry_failed, user_id=user_id)


class AsyncContextAPI(_AsyncNamespace):
    """Async twin of ``ContextAPI``: the same methods, each a coroutine run in a worker thread."""

    _sync: ContextAPI

    async def create_context_template(self, *, template_id: str, template: str) -> ContextTemplate:
        """Store a template; unknown placeholders fail here, not at read time."""
        return await asyncio.to_thread(self._sync.create_context_template, template_id=template_id, template=template)

    async def update_context_template(self, *, template_id: str, template: str) -> ContextTemplate:
        """Replace a template's text (its version goes up by one)."""
        return await asyncio.to_thread(self._sync.update_context_template, template_id=template_id, template=template)

    async def get_context_template(self, template_id: str) -> ContextTemplate:
        """A stored template. Raises TemplateNotFoundError."""
        return await asyncio.to_thread(self._sync.get_context_template, template_id)

    async def list_context_templates(self) -> list[ContextTemplate]:
        """Every stored template."""
        return await asyncio.to_thread(self._sync.list_context_templates)

    async def delete_context_template(self, template_id: str) -> None:
        """Remove a template."""
        return await asyncio.to_thread(self._sync.delete_context_template, template_id)

    async def get(self, *, user_id: str, query: str, template_id: str | None = None,
                  token_budget: int | None = None) -> UserContext:
        """The context block for an arbitrary query against the user's graph."""
        return await asyncio.to_thread(self._sync.get, user_id=user_id, query=query, template_id=template_id,
                                       token_budget=token_budget)


class AsyncMemory(MemoryBase):
    """The async twin of ``Memory``: same namespaces and names, each method awaitable."""

    def __init__(self, home: str | Path | None = None, **kwargs: Any) -> None:
        from .client import ContextAPI, GraphAPI, ThreadAPI, UserAPI

        super().__init__(home, **kwargs)
        self.user = AsyncUserAPI(UserAPI(self._core))
        self.thread = AsyncThreadAPI(ThreadAPI(self._core))
        self.graph = AsyncGraphAPI(GraphAPI(self._core))
        self.context = AsyncContextAPI(ContextAPI(self._core))

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
