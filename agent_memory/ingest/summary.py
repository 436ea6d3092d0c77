"""The user summary without a model: a short profile composed from the graph, not a list of facts.

It says where the user stands (lasting states, joined into one sentence, with what changed and
since when), who is in their life and what is known about each, what they like, their latest
events and how long and about what they have been talking. Then, for each configured question,
the current fact that answers it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from ..context.lines import is_event
from ..extraction.relations import SINGLE_VALUED
from ..models import Fact, User
from ..storage.base import GraphStore

__all__ = ["answer_questions", "summarize_user", "update_summary"]

_WORD = re.compile(r"[a-z0-9]+")
_QUESTION_WORDS = frozenset({
    "what", "which", "who", "whom", "where", "when", "why", "how", "is", "are", "was", "were", "do", "does",
    "did", "the", "a", "an", "of", "to", "in", "on", "at", "for", "user", "users", "s", "their", "they", "his",
    "her", "has", "have", "current", "currently", "now", "much", "many", "any", "there", "with", "about",
})
# Lasting states, most telling first; other single-valued relations follow.
_STATE_ORDER = ["LIVES_IN", "WORKS_AT", "JOB_TITLE", "STUDIES_AT", "HAS_PLAN", "ACCOUNT_STATUS",
                "RELATIONSHIP_STATUS", "MARRIED_TO", "ENGAGED_TO", "DATING", "PREFERS_CONTACT"]
_PEOPLE = re.compile(r"^HAS_(SISTER|BROTHER|SIBLING|MOTHER|FATHER|SON|DAUGHTER|CHILD|PARTNER|GRANDMOTHER|"
                     r"GRANDFATHER|AUNT|UNCLE|COUSIN|NIECE|NEPHEW|FRIEND|ROOMMATE|NEIGHBOR|COLLEAGUE|BOSS|"
                     r"MANAGER|MENTOR|THERAPIST|DOCTOR|TEAMMATE)$")
_ABOUT_OTHERS = ("LIVES_IN", "WORKS_AT", "JOB_TITLE", "STUDIES_AT")
_MAX_STATES, _MAX_PEOPLE, _MAX_LIKES, _MAX_EVENTS, _MAX_TOPICS = 6, 4, 5, 2, 3


def _day(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d}" if value else ""


def _phrase(fact: Fact) -> str:
    """The fact without its subject and final stop: "lives in Denver"; the whole sentence otherwise."""
    text, subject = fact.fact.strip().rstrip("."), (fact.source_name or "").strip()
    for lead in (subject + " ", subject + ": "):  # case-blind: "U-42 became ..." was stored for user "u-42"
        if subject and text[:len(lead)].casefold() == lead.casefold():
            return text[len(lead):]
    return text


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _states(mine: list[Fact]) -> list[str]:
    """One phrase per lasting state, with what it replaced and since when: "lives in Denver (since
    2024-03-13; before: Boston)"; phrases of one verb merge ("works at Acme Corp as a designer")."""
    rank = {r: i for i, r in enumerate(_STATE_ORDER)}
    current = sorted((f for f in mine if f.invalid_at is None and f.relation in SINGLE_VALUED),
                     key=lambda f: (rank.get(f.relation, len(rank)), -(f.valid_at.timestamp() if f.valid_at else 0)))
    out: list[str] = []
    seen: set[str] = set()
    for fact in current:
        if fact.relation in seen:
            continue
        seen.add(fact.relation)
        phrase = _phrase(fact)
        before = sorted((f for f in mine if f.relation == fact.relation and f.invalid_at is not None
                         and f.target_uuid != fact.target_uuid), key=lambda f: f.invalid_at or datetime.min)
        if before:
            phrase += f" (since {_day(fact.valid_at)}; before: {before[-1].target_name})"
        verb, _, rest = phrase.partition(" ")
        if out and rest.startswith("as ") and out[-1].partition(" ")[0] == verb and "(" not in out[-1]:
            out[-1] += " " + rest  # "works at Acme Corp" + "works as a designer": one phrase
            continue
        out.append(phrase)
        if len(out) >= _MAX_STATES:
            break
    return out


def _people(store: GraphStore, user: User, mine: list[Fact]) -> list[str]:
    """"Ana (sister; lives in Lisbon)": who the user names as family or friends, and their own facts."""
    links = [f for f in mine if f.invalid_at is None and _PEOPLE.match(f.relation) and f.target_uuid]
    links = links[:_MAX_PEOPLE]
    if not links:
        return []
    theirs = store.facts_touching(user.user_id, [f.target_uuid for f in links], limit=100)
    out = []
    for link in links:
        role = link.relation.removeprefix("HAS_").lower()
        known = [_phrase(f) for f in theirs if f.source_uuid == link.target_uuid and f.invalid_at is None
                 and f.relation in _ABOUT_OTHERS][:2]
        out.append(f"{link.target_name} ({'; '.join([role, *known])})")
    return out


def _preferences(mine: list[Fact]) -> list[str]:
    """"favorite author Octavia Butler", "likes hiking", "prefers email contact", "dislikes olives"."""
    current = [f for f in mine if f.invalid_at is None and f.target_name]
    out = [f"favorite {f.relation.removeprefix('FAVORITE_').lower().replace('_', ' ')} {f.target_name}"
           for f in current if f.relation.startswith("FAVORITE_")]
    for relation, verb in (("LIKES", "likes"), ("PREFERS", "prefers"), ("DISLIKES", "dislikes")):
        out += [f"{verb} {f.target_name}" for f in current if f.relation == relation]
    return out[:_MAX_LIKES]


def _events(mine: list[Fact]) -> list[str]:
    """The latest one-off events, each on its day: "payment_failed on 2024-03-25"."""
    events = sorted((f for f in mine if f.valid_at is not None and is_event(f.relation)),
                    key=lambda f: f.valid_at or datetime.min, reverse=True)
    out = []
    for fact in events[:_MAX_EVENTS]:
        what = _phrase(fact).split(" (", 1)[0]
        out.append(f"{what.replace('_', ' ') if ' ' not in what else what} on {_day(fact.valid_at)}")
    return out


def _activity(store: GraphStore, user: User) -> str:
    """How long and about what: "4 conversations; keeps coming back to Acme Corp and Denver"."""
    threads = store.count_threads(user.user_id)
    top = _recurring(store, user, _MAX_TOPICS)
    found = {e.uuid: e.name for e in store.get_entities(user.user_id, top)}
    names = [found[u] for u in top if u in found]
    parts = [f"{threads} conversations"] if threads > 1 else []
    if names:
        parts.append(f"keeps coming back to {_join(names)}")
    return "; ".join(parts)


def _recurring(store: GraphStore, user: User, n: int) -> list[str]:
    """The ids of the ``n`` most mentioned entities seen in two threads or more, from their
    'recurring entity' observations (``observe.update_observations`` keeps their counts as they are
    touched): counting every mention of the user again cost ~100 ms a batch at 10k episodes."""
    kept = [o.evidence[0] for o in store.list_observations(user.user_id, limit=4 * n + 20)
            if o.key.startswith("entity:") and o.evidence]
    return [u for u in kept if u != user.entity_uuid][:n]


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


def summarize_user(store: GraphStore, user: User, questions: Sequence[str] = ()) -> str:
    """A short profile of the user (see the module docs); then each of ``questions`` (questions the
    summary must always answer) with the current fact that answers it. Empty when nothing is known
    but the user id (no name, no email, no fact about them)."""
    name = user.display_name
    mine = [f for f in store.facts_touching(user.user_id, [user.entity_uuid], limit=500)
            if f.source_uuid == user.entity_uuid] if user.entity_uuid else []
    head = name + (f" ({user.email})" if user.email else "")
    states = _states(mine)
    sentences = [f"{head} {_join(states)}." if states else f"{head}."]
    people, likes, events = _people(store, user, mine), _preferences(mine), _events(mine)
    if people:
        sentences.append(f"People in {name}'s life: {_join(people)}.")
    if likes:
        sentences.append(f"Preferences: {_join(likes)}.")
    if events:
        sentences.append(f"Latest: {_join(events)}.")
    activity = _activity(store, user)
    if activity:
        sentences.append(activity[0].upper() + activity[1:] + ".")
    if sentences == [f"{head}."] and head == user.user_id:
        sentences = []  # nothing known but the account's id: a summary that says nothing costs tokens for nothing
    return " ".join([*sentences, *answer_questions(questions, mine)])


def update_summary(store: GraphStore, user: User, questions: Sequence[str] = ()) -> str:
    """Recompute and store the user's summary (answering ``questions``, if any)."""
    fresh = store.get_user(user.user_id) or user
    summary = summarize_user(store, fresh, questions=questions)
    if summary != fresh.summary:
        store.update_user(fresh.model_copy(update={"summary": summary}))
    return summary
