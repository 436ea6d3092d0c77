"""Relation rules over asserted clauses for the offline extractor.

Each rule looks at one clause and one resolved subject and returns drafts (relation + target +
the tokens that make the fact sentence), ``[]`` when it recognised the clause but found nothing
worth keeping, or ``None`` when the clause is not its business. Rules are tried in order.
"""

from __future__ import annotations

from collections.abc import Callable

from ._act_rules import ACT_RULES
from ._clauses import Clause, Subject
from ._mentions import Mention
from ._state_rules import STATE_RULES
from ._targets import Draft

__all__ = ["RULES", "clause_drafts"]

Rule = Callable[[Clause, Subject, dict[int, Mention]], "list[Draft] | None"]

RULES: tuple[Rule, ...] = (*STATE_RULES, *ACT_RULES)


def clause_drafts(c: Clause, s: Subject, m: dict[int, Mention]) -> list[Draft]:
    """The drafts the first applicable rule makes for one clause and subject."""
    for rule in RULES:
        drafts = rule(c, s, m)
        if drafts is not None:
            return [d for d in drafts if d.target is not None]
    return []
