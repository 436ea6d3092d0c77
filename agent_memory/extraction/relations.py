"""Relation vocabulary: normalisation to UPPER_SNAKE and which relations hold one value at a time."""

from __future__ import annotations

import re

__all__ = [
    "SINGLE_VALUED",
    "canonical_relation",
    "is_single_valued",
    "normalize_relation",
    "opposite_relation",
    "relation_types",
]

# A subject has at most one current target for these: a new target closes the old fact.
SINGLE_VALUED: frozenset[str] = frozenset(
    {
        "LIVES_IN",
        "WORKS_AT",
        "JOB_TITLE",
        "HAS_PLAN",
        "HAS_STATUS",
        "ACCOUNT_STATUS",
        "RELATIONSHIP_STATUS",
        "MARRIED_TO",
        "DATING",
        "HAS_AGE",
        "HAS_EMAIL",
        "HAS_PHONE",
        "HAS_NAME",
        "PREFERS_CONTACT",
        "STUDIES_AT",
        "DRIVES",
        "BIRTHDAY",
    }
)

# Prefixes of families that are single-valued per relation (FAVORITE_BOOK, FAVORITE_COLOR, ...).
_SINGLE_VALUED_PREFIXES = ("FAVORITE_", "HAS_CURRENT_", "CURRENT_")

_SYNONYMS = {
    "LIVE_IN": "LIVES_IN",
    "RESIDES_IN": "LIVES_IN",
    "MOVED_TO": "LIVES_IN",
    "RELOCATED_TO": "LIVES_IN",
    "WORK_AT": "WORKS_AT",
    "WORK_FOR": "WORKS_AT",
    "WORKS_FOR": "WORKS_AT",
    "EMPLOYED_BY": "WORKS_AT",
    "EMPLOYED_AT": "WORKS_AT",
    "JOINED": "WORKS_AT",
    "FAVOURITE": "FAVORITE",
    "STUDY_AT": "STUDIES_AT",
}
# What models write for a state change (seen from Qwen2.5: MOVED, UPGRADED) -> the state it leaves.
_STATE_CHANGES = {
    "LIVES_IN": ("MOVED", "MOVES_TO", "MOVED_INTO", "RELOCATED", "RELOCATES_TO", "LIVING_IN", "LIVES", "LIVE",
                 "RESIDES", "RESIDES_AT", "LIVES_AT", "BASED_IN", "IS_BASED_IN", "HOME_IN", "HOMETOWN_IS",
                 "SETTLED_IN", "RESIDENCE", "CURRENT_CITY", "LOCATION", "LOCATED_IN"),
    "WORKS_AT": ("WORKS", "WORKING_AT", "WORKING_FOR", "EMPLOYED", "EMPLOYER", "STARTED_AT", "STARTED_WORKING_AT",
                 "HIRED_BY", "JOINED_COMPANY", "EMPLOYED_WITH", "WORKS_WITH_COMPANY", "JOB_AT"),
    "HAS_PLAN": ("UPGRADED", "UPGRADED_TO", "DOWNGRADED", "DOWNGRADED_TO", "SWITCHED_TO", "SUBSCRIBED",
                 "SUBSCRIBED_TO", "ON_PLAN", "IS_ON_PLAN", "PLAN", "HAS_SUBSCRIPTION", "SUBSCRIPTION"),
    "MARRIED_TO": ("MARRIED", "IS_MARRIED_TO", "WED", "SPOUSE", "HUSBAND", "WIFE", "HAS_SPOUSE"),
    "PREFERS_CONTACT": ("PREFERRED_CONTACT", "PREFERS_CONTACT_METHOD", "CONTACT_PREFERENCE",
                        "PREFERRED_CONTACT_METHOD", "PREFERS_CONTACT_BY"),
    "JOB_TITLE": ("HAS_JOB_TITLE", "WORKS_AS", "IS_A", "OCCUPATION", "JOB", "ROLE", "HAS_ROLE"),
}
_CANONICAL = {alias: rel for rel, aliases in _STATE_CHANGES.items() for alias in aliases}
# The entity types a relation implies for its endpoints (the model often says Topic).
_ENDPOINT_TYPES = {
    "LIVES_IN": ("Person", "Place"), "FROM": ("Person", "Place"), "VISITED": ("Person", "Place"),
    "WORKS_AT": ("Person", "Organization"), "WORKED_AT": ("Person", "Organization"),
    "STUDIES_AT": ("Person", "Organization"), "HAS_PLAN": ("Person", "Plan"),
    "MARRIED_TO": ("Person", "Person"), "ENGAGED_TO": ("Person", "Person"), "DATING": ("Person", "Person"),
    "JOB_TITLE": ("Person", "JobTitle"), "LIKES": ("Person", "Topic"), "DISLIKES": ("Person", "Topic"),
}


def normalize_relation(relation: str, *, synonyms: bool = True) -> str:
    """'works for' / 'worksFor' / 'WORK_FOR' -> 'WORKS_AT'; anything else to UPPER_SNAKE.

    ``synonyms=False`` only changes the spelling (for event names such as ``joined``).
    """
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", relation.strip())
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper() or "RELATED_TO"
    text = text.replace("FAVOURITE", "FAVORITE")
    return _SYNONYMS.get(text, text) if synonyms else text


def is_single_valued(relation: str) -> bool:
    """True when a subject can hold only one current value of this relation."""
    rel = normalize_relation(relation)
    return rel in SINGLE_VALUED or rel.startswith(_SINGLE_VALUED_PREFIXES)


_OPPOSITES = {"LIKES": "DISLIKES", "LOVES": "HATES", "ENJOYS": "DISLIKES", "PREFERS": "DISLIKES"}
_OPPOSITES.update({v: k for k, v in list(_OPPOSITES.items()) if v not in _OPPOSITES})


def opposite_relation(relation: str) -> str | None:
    """The relation that contradicts this one for the same target (LIKES <-> DISLIKES), if any."""
    return _OPPOSITES.get(normalize_relation(relation))


def canonical_relation(relation: str, known: object = ()) -> str:
    """A model's relation in our vocabulary: a user-defined edge type when it names one, else
    the state a change leaves ("MOVED" -> LIVES_IN, "UPGRADED" -> HAS_PLAN), else normalised.

    ``known``: the ontology's relation names (UPPER_SNAKE); they win over the built-in mapping.
    """
    rel = normalize_relation(relation)
    names = set(known) if known else set()  # type: ignore[call-overload]
    if rel in names:
        return rel
    mapped = _CANONICAL.get(rel, rel)
    return mapped


def relation_types(relation: str) -> tuple[str, str]:
    """(source type, target type) a relation implies; ("Person", "Topic") when it implies nothing."""
    return _ENDPOINT_TYPES.get(normalize_relation(relation), ("Person", "Topic"))
