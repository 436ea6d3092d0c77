"""When the user summary is rewritten: offline after every run, or by the model once enough has changed.

The model path gathers what ingestion runs changed per user and makes one call when
``llm_summary_min_facts`` facts have changed (or when the memory waits or closes): fewer calls, the
same summary. A failed call falls back to the rule-based summary; the facts are stored either way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .._time import utcnow
from ..config import MemoryConfig
from ..errors import LLMResponseError, ProviderError
from ..llm.base import LLMClient
from ..models import Fact, Observation, User
from ..storage.base import GraphStore

__all__ = ["Summaries"]

log = logging.getLogger(__name__)


class Summaries:
    """The summary writer a memory's ingestion calls after each run (``queue`` or ``with_questions``)."""

    def __init__(self, store: GraphStore, config: MemoryConfig, llm: LLMClient | None,
                 index_owed: Callable[[str], None]) -> None:
        """``index_owed(user_id)`` embeds what the model's observations left owed."""
        self.store, self.config, self.llm, self._index_owed = store, config, llm, index_owed
        self._backlog: dict[str, tuple[dict[str, Fact], list[str]]] = {}
        self._lock = threading.Lock()

    def queue(self, user: User, new: list[Fact], closed: list[Fact], episodes: list[str]) -> None:
        """Gather what runs changed; rewrite the summary once enough has (or on wait/close): fewer calls."""
        with self._lock:
            facts, seen = self._backlog.setdefault(user.user_id, ({}, []))
            facts.update({f.uuid: f for f in [*new, *closed]})
            seen += episodes
            due = len(facts) >= self.config.llm_summary_min_facts
        if due:
            self.flush(user.user_id)

    def flush(self, user_id: str | None) -> None:
        """Run the summary call for what is gathered (for one user, or all)."""
        with self._lock:
            users = [user_id] if user_id else list(self._backlog)
            work = {u: self._backlog.pop(u) for u in users if u in self._backlog}
        for uid, (facts, seen) in work.items():
            user = self.store.get_user(uid)
            if user is None or not facts:
                continue
            changed = list(facts.values())
            self._with_llm(user, [f for f in changed if f.is_current], [f for f in changed if not f.is_current], seen)

    def with_questions(self, user: User, new: list[Fact], closed: list[Fact], episodes: list[str]) -> None:
        """Offline: the rule-based summary, answering ``config.summary_questions`` from current facts."""
        from .observe import update_summary

        update_summary(self.store, user, self.config.summary_questions)

    def _current_facts(self, user: User) -> list[str]:
        """Sentences of the user's current facts (what the summary's questions are answered from)."""
        if not user.entity_uuid:
            return []
        return [f.fact for f in self.store.facts_touching(user.user_id, [user.entity_uuid], limit=200)
                if f.invalid_at is None and f.source_uuid == user.entity_uuid]

    def _with_llm(self, user: User, new: list[Fact], closed: list[Fact], episodes: list[str]) -> None:
        """One call updates the summary and the model's observations with what this run changed."""
        from .llm_summary import summarize_with_llm
        from .observe import update_summary

        assert self.llm is not None
        current = sorted((o for o in self.store.list_observations(user.user_id, limit=200) if o.key.startswith("llm:")),
                         key=lambda o: o.key)  # a stable prompt: not in the order of last_seen ties
        try:
            update = summarize_with_llm(
                self.llm, user_name=user.display_name, current_summary=user.summary,
                observations=[(o.key.removeprefix("llm:"), o.text) for o in current],
                new_facts=[f.fact for f in new],
                closed_facts=[f"{f.fact} (until {f.invalid_at:%Y-%m-%d})" for f in closed if f.invalid_at],
                episodes=episodes, questions=self.config.summary_questions,
                current_facts=self._current_facts(user) if self.config.summary_questions else ())
        except (ProviderError, LLMResponseError) as exc:
            log.warning("summary call failed for %s, using the rule-based summary: %s", user.user_id, exc)
            update_summary(self.store, user, self.config.summary_questions)
            return
        fresh = self.store.get_user(user.user_id) or user  # the user may have been updated during the call
        self.store.update_user(fresh.model_copy(update={"summary": update.summary, "updated_at": utcnow()}))
        now = utcnow()
        saved = []
        for obs in update.observations:
            key = f"llm:{obs.key}"
            if obs.remove:
                self.store.delete_observation(user.user_id, key)
                continue
            old = next((o for o in current if o.key == key), None)
            saved.append(self.store.save_observation(Observation(
                user_id=user.user_id, key=key, text=obs.text, evidence=episodes[-20:],
                first_seen=old.first_seen if old else now, last_seen=now, count=(old.count + 1) if old else 1)))
        if saved:
            self._index_owed(user.user_id)
