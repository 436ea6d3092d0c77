"""Observations and the user summary, derived without a model from counts over the graph."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..extraction.relations import SINGLE_VALUED
from ..models import Fact, Observation, User
from ..storage.base import GraphStore

__all__ = ["answer_questions", "update_observations", "update_summary", "summarize_user"]

_WORD = re.compile(r"[a-z0-9]+")
_QUESTION_WORDS = frozenset({
    "what", "which", "who", "whom", "where", "when", "why", "how", "is", "are", "was", "were", "do", "does",
    "did", "the", "a", "an", "of", "to", "in", "on", "at", "for", "user", "users", "s", "their", "they", "his",
    "her", "has", "have", "current", "currently", "now", "much", "many", "any", "there", "with", "about",
})

# Relations worth a place in the one-paragraph summary, most telling first.
_SUMMARY_ORDER = ["LIVES_IN", "WORKS_AT", "JOB_TITLE", "HAS_PLAN", "ACCOUNT_STATUS", "RELATIONSHIP_STATUS",
                  "MARRIED_TO", "STUDIES_AT", "PREFERS_CONTACT"]


def update_observations(store: GraphStore, user: User, entity_uuids: Iterable[str]) -> list[Observation]:
    """Refresh 'recurring entity' observations for entities this batch touched (seen in 2+ sessions).

    Saving an observation queues its vector; the indexer writes it after this run.
    """
    touched = set(entity_uuids)
    if not touched:
        return []
    user_entity = user.entity_uuid
    rows = [r for r in store.mention_stats(user.user_id, min_threads=2, limit=500)
            if r.entity_uuid in touched and r.entity_uuid != user_entity]
    if not rows:
        return []
    entities = {e.uuid: e for e in store.get_entities(user.user_id, [r.entity_uuid for r in rows])}
    saved = []
    for r in rows:
        ent = entities.get(r.entity_uuid)
        if ent is None:
            continue
        first, last = r.first_seen, r.last_seen
        # the text says what the pattern is; its counts and dates are fields (rendered from them), so the
        # text, and its vector, change when the meaning does, not with every mention
        text = f"{user.display_name} keeps coming back to {ent.name} ({ent.type})"
        saved.append(store.save_observation(Observation(
            user_id=user.user_id, key=f"entity:{ent.uuid}", text=text, evidence=[ent.uuid],
            first_seen=first, last_seen=last, count=r.mentions, sessions=list(r.sessions))))
    return saved


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def answer_questions(questions: Sequence[str], facts: Sequence[Fact]) -> list[str]:
    """Each question with the current fact that answers it best, by shared words (the relation's
    words count: "budget" finds HAS_BUDGET), or "not known yet": ``"What is the user's budget?
    Jane's budget is $500."``."""
    current = [f for f in facts if f.invalid_at is None]
    out = []
    for question in questions:
        wanted = {_stem(w) for w in _WORD.findall(question.casefold())} - _QUESTION_WORDS
        best, score = None, 0
        for fact in current:
            words = {_stem(w) for w in _WORD.findall(f"{fact.fact} {fact.relation.replace('_', ' ')}".casefold())}
            shared = len(wanted & words)
            if shared > score:
                best, score = fact, shared
        answer = best.fact.strip() if best is not None else "Not known yet."
        out.append(f"{question.strip()} {answer if answer.endswith(('.', '!', '?')) else answer + '.'}")
    return out


def summarize_user(store: GraphStore, user: User, max_facts: int = 8, questions: Sequence[str] = ()) -> str:
    """A short paragraph: who the user is and the strongest current facts about them; then, for each
    of ``questions`` (questions the summary must always answer), the current fact that answers it."""
    parts = [user.display_name]
    if user.email:
        parts[0] += f" ({user.email})"
    facts = []
    if user.entity_uuid:
        current = [f for f in store.facts_touching(user.user_id, [user.entity_uuid], limit=200)
                   if f.invalid_at is None and f.source_uuid == user.entity_uuid]
        rank = {r: i for i, r in enumerate(_SUMMARY_ORDER)}
        current.sort(key=lambda f: (rank.get(f.relation, len(rank) + (0 if f.relation in SINGLE_VALUED else 1)),
                                    -(f.valid_at.timestamp() if f.valid_at else 0)))
        seen: set[str] = set()
        for f in current:
            if f.relation in SINGLE_VALUED and f.relation in seen:
                continue
            seen.add(f.relation)
            facts.append(f.fact.rstrip("."))
            if len(facts) >= max_facts:
                break
    text = parts[0] + "."
    if facts:
        text += " " + ". ".join(facts) + "."
    if questions:
        mine = [f for f in store.facts_touching(user.user_id, [user.entity_uuid], limit=500)
                if f.source_uuid == user.entity_uuid] if user.entity_uuid else []
        text += " " + " ".join(answer_questions(questions, mine))
    return text


def update_summary(store: GraphStore, user: User, questions: Sequence[str] = ()) -> str:
    """Recompute and store the user's summary (answering ``questions``, if any)."""
    fresh = store.get_user(user.user_id) or user
    summary = summarize_user(store, fresh, questions=questions)
    if summary != fresh.summary:
        store.update_user(fresh.model_copy(update={"summary": summary}))
    return summary
