"""``Memory`` and ``AsyncMemory``: the public API, in namespaces ``user``, ``thread``, ``graph``, ``context``.

Setup::

    from agent_memory import Memory, Message
    memory = Memory()                        # ./.agent_memory, or AGENT_MEMORY_HOME
    memory.user.add(user_id="jane", first_name="Jane", last_name="Smith")
    memory.thread.create(thread_id="t1", user_id="jane")
    memory.thread.add_messages("t1", messages=[Message(role="user", name="Jane Smith", content="...")])
    ctx = memory.thread.get_user_context(thread_id="t1")
    print(ctx.context)

Async: ``AsyncMemory`` (written in ``agent_memory.aio``, exported here) has the same namespaces and
method names, each a coroutine run in a worker thread: the logic is written once (sync, in
``service``). The namespaces only shape arguments: every operation is one ``MemoryService`` method.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ._facade import MemoryBase
from .aio import AsyncContextAPI, AsyncGraphAPI, AsyncMemory, AsyncThreadAPI, AsyncUserAPI
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
from .service import MemoryService
from .validation import check_args

__all__ = ["AsyncContextAPI", "AsyncGraphAPI", "AsyncMemory", "AsyncThreadAPI", "AsyncUserAPI", "ContextAPI",
           "GraphAPI", "Memory", "ThreadAPI", "UserAPI"]



class _Namespace:
    def __init__(self, core: MemoryService) -> None:
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
        return self._core.list_users(limit, offset)

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
        return self._core.list_threads(user_id, limit, offset)

    def delete(self, thread_id: str) -> None:
        """Delete the thread and its messages; what the graph learned from them stays."""
        self._core.delete_thread(thread_id)

    def add_messages(self, thread_id: str, *, messages: Sequence[Message | dict[str, Any]]) -> builtins.list[Message]:
        """Persist messages as episodes (all or none), then process them. Returns them with ids and times."""
        return self._core.add_messages(thread_id, messages)

    def get_messages(self, thread_id: str, *, last: int | None = None) -> builtins.list[Message]:
        """The thread's messages in order (the last ``last`` if given)."""
        return self._core.messages(thread_id, last)

    def get_user_context(self, thread_id: str, *, template_id: str | None = None,
                         token_budget: int | None = None) -> UserContext:
        """The context block for the thread's next reply, from the whole user graph.

        The query is the thread's last few messages; ``template_id`` picks a stored template.
        """
        return self._core.thread_context(thread_id, template_id=template_id, token_budget=token_budget)


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
        return self._core.search(user_id, query, scope, limit, filters, relevance=relevance)

    def episodes(self, *, user_id: str, thread_id: str | None = None, source: str | None = None,
                 status: str | None = None, since: str | datetime | None = None,
                 until: str | datetime | None = None, limit: int = 100, offset: int = 0) -> list[Episode]:
        """Episodes, filterable by thread, source, status and time; oldest first."""
        return self._core.episodes(user_id, thread_id=thread_id, source=source, status=status, since=since,
                                   until=until, limit=limit, offset=offset)

    def facts(self, *, user_id: str, thread_id: str | None = None, relation: str | None = None,
              valid_only: bool = False, as_of: str | datetime | None = None, since: str | datetime | None = None,
              until: str | datetime | None = None, limit: int = 100, offset: int = 0) -> list[Fact]:
        """Facts, filterable by thread, relation, validity, and ``as_of`` (what was true then)."""
        return self._core.facts(user_id, thread_id=thread_id, relation=relation, valid_only=valid_only,
                                as_of=as_of, since=since, until=until, limit=limit, offset=offset)

    def entities(self, *, user_id: str, type: str | None = None, limit: int = 100, offset: int = 0) -> list[Entity]:
        """Entities of the user's graph, optionally of one type."""
        return self._core.entities(user_id, type=type, limit=limit, offset=offset)

    def observations(self, *, user_id: str, limit: int = 100) -> list[Observation]:
        """Patterns derived across the user's sessions, strongest first."""
        return self._core.observations(user_id, limit)

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
        return self._core.get_template(template_id)

    def list_context_templates(self) -> list[ContextTemplate]:
        """Every stored template."""
        return self._core.list_templates()

    def delete_context_template(self, template_id: str) -> None:
        """Remove a template."""
        self._core.delete_template(template_id)

    def get(self, *, user_id: str, query: str, template_id: str | None = None,
            token_budget: int | None = None) -> UserContext:
        """The context block for an arbitrary query against the user's graph."""
        check_args(query=query)
        return self._core.build_context(user_id, query, template_id=template_id, token_budget=token_budget)


class Memory(MemoryBase):
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
