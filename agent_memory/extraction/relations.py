"""Relation vocabulary: normalisation to UPPER_SNAKE and which relations hold one value at a time."""

from __future__ import annotations

import re

__all__ = ["SINGLE_VALUED", "is_single_valued", "normalize_relation", "opposite_relation"]

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
