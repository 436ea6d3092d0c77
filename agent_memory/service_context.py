"""The context side of ``MemoryService``: templates, and the block built for a user or a thread.

A mixin (as the PostgreSQL store's parts are): one service, its read path in a module of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ._switching import switching
from ._time import utcnow
from .config import MemoryConfig
from .context.render import ContextParts, render_context
from .context.templates import DEFAULT_TEMPLATE, template_kinds, template_shown
from .errors import AlreadyExistsError, TemplateNotFoundError
from .ingest.worker import Readers
from .models import ContextTemplate, Thread, User, UserContext
from .retrieval.search import Retriever
from .storage.base import GraphStore
from .validation import check_id as _check_id
from .validation import check_query, check_template, check_token_budget

__all__ = ["ContextMixin"]


class ContextMixin:
    """Templates and context blocks; the service provides the parts and the lookups that raise."""

    store: GraphStore
    config: MemoryConfig
    retriever: Retriever
    readers: Readers

    if TYPE_CHECKING:  # the service's own
        def check_open(self) -> None: ...

        def user(self, user_id: str) -> User: ...

        def thread(self, thread_id: str) -> Thread: ...

    def get_template(self, template_id: str) -> ContextTemplate:
        self.template_text(template_id)
        found = self.store.get_template(template_id)
        if found is None:  # deleted in between
            raise TemplateNotFoundError(f"context template {template_id!r} does not exist", template_id=template_id)
        return found

    def list_templates(self) -> list[ContextTemplate]:
        self.check_open()
        return self.store.list_templates()

    def delete_template(self, template_id: str) -> None:
        self.template_text(template_id)
        self.store.delete_template(template_id)

    # -- context ------------------------------------------------------------------------------
    def template_text(self, template_id: str | None) -> str:
        if template_id is None:
            return DEFAULT_TEMPLATE
        _check_id(template_id, "template_id")
        found = self.store.get_template(template_id)
        if found is None:
            raise TemplateNotFoundError(f"context template {template_id!r} does not exist; create it with "
                                        "memory.context.create_context_template", template_id=template_id)
        return found.template

    def save_template(self, template_id: str, template: str, *, create: bool) -> ContextTemplate:
        self.check_open()
        check_template(template_id, template)
        existing = self.store.get_template(template_id)
        if create and existing is not None:
            raise AlreadyExistsError(f"context template {template_id!r} already exists; use update_context_template",
                                     template_id=template_id)
        if not create and existing is None:
            raise TemplateNotFoundError(f"context template {template_id!r} does not exist", template_id=template_id)
        now = utcnow()
        record = ContextTemplate(template_id=template_id, template=template,
                                 version=existing.version + 1 if existing else 1,
                                 created_at=existing.created_at if existing else now, updated_at=now)
        self.store.save_template(record)
        return record

    def build_context(self, user_id: str, query: str, *, template_id: str | None = None,
                      token_budget: int | None = None, thread_id: str | None = None,
                      exclude: frozenset[str] = frozenset(), now: datetime | None = None) -> UserContext:
        """Retrieve, rank and render; ``exclude`` drops episodes already in the caller's window.

        ``now``: the date relative phrases of the query count from ("last week"); by default the
        latest message of the caller's window, else none (then they are not read).
        """
        # background ingestion starts its next batch after this read; its threads hand the GIL on sooner
        with self.readers, switching(self.config.read_switch_interval):
            return self._build_context(user_id, query, template_id, token_budget, thread_id, exclude, now)

    def _build_context(self, user_id: str, query: str, template_id: str | None, token_budget: int | None,
                       thread_id: str | None, exclude: frozenset[str], now: datetime | None) -> UserContext:
        user = self.user(user_id)
        check_query(query, template_id)
        template = self.template_text(template_id)
        budget = check_token_budget(token_budget) or self.config.token_budget
        if now is None and exclude:
            now = max((e.reference_time for e in self.store.get_episodes(user_id, sorted(exclude))), default=None)
        cands = self.retriever.candidates(user_id, query, now=now, kinds=template_kinds(template),
                                          shown=template_shown(template), exclude=exclude)
        parts = ContextParts(
            user_summary=user.summary,
            facts=[f for f, _ in cands.facts], entities=[e for e, _ in cands.entities],
            episodes=[e for e, _ in cands.episodes if e.uuid not in exclude],
            observations=[o for o, _ in cands.observations], episode_order=cands.episode_order,
        )
        if not query.strip():
            parts.observations = self.store.list_observations(user_id, limit=20)
        out = render_context(template, parts, budget)
        return UserContext(context=out.text, query=query, user_id=user_id, thread_id=thread_id,
                           template_id=template_id, user_summary=out.user_summary, facts=out.facts,
                           entities=out.entities, episodes=out.episodes, observations=out.observations,
                           token_count=out.tokens)

    def thread_context(self, thread_id: str, *, template_id: str | None = None,
                       token_budget: int | None = None) -> UserContext:
        """The context block for a thread's next reply: its last messages are the query."""
        thread = self.thread(thread_id)
        query, recent, now = self.thread_query(thread_id)
        return self.build_context(thread.user_id, query, template_id=template_id, token_budget=token_budget,
                                  thread_id=thread_id, exclude=recent, now=now)

    def thread_query(self, thread_id: str) -> tuple[str, frozenset[str], datetime | None]:
        """The latest messages of a thread, newest first, as the query; their ids; the latest one's time
        (what relative phrases count from: read here, not again by id)."""
        recent = self.store.thread_messages(thread_id, last=self.config.query_messages)
        return ("\n".join(m.content[:1000] for m in reversed(recent)), frozenset(m.uuid for m in recent),
                max((m.reference_time for m in recent), default=None))
