"""Relation rules for lasting states: plans, copulas ("I'm a nurse"), residence, partners, jobs, studies.

See ``_rules`` for the contract every rule follows.
"""

from __future__ import annotations

from typing import Any

from ._clauses import Clause, Subject
from ._lexicon import (
    DWELLINGS,
    JOB_NOUNS,
    OCCUPATIONS,
    PLAN_NOUNS,
    PLAN_TIERS,
    PLAN_VERBS,
    RELATIONSHIP_STATES,
    SCHOOL_WORDS,
)
from ._mentions import Mention, canonical_name, noun_phrase
from ._targets import (
    Draft,
    PrepObj,
    Target,
    anaphoric,
    city_names,
    dobj,
    is_org,
    named_target,
    plain_title,
    prep,
    preps,
    target_of,
    with_conj,
)
from ._targets import (
    lemma as _lemma,
)
from ._targets import (
    token_ids as _ids,
)

__all__ = ["STATE_RULES"]

Token = Any


def _plan(c: Clause, s: Subject, m: dict[int, Mention]) -> list[Draft] | None:
    """"I'm on the Pro plan", "I upgraded to the Business plan", "I cancelled my Premium subscription"."""
    if _lemma(c.verb) not in PLAN_VERBS:
        return None
    found = dobj(c.verb)
    candidates = ([PrepObj(set(), found)] if found is not None else []) + [po for _, po in preps(c.verb)]
    for ids, noun in candidates:
        if _lemma(noun) not in PLAN_NOUNS:
            continue
        mods = [t for t in noun.lefts if t.dep_ in ("compound", "amod")]
        if not mods or not all(t.text[:1].isupper() or t.lower_ in PLAN_TIERS for t in mods):
            return []  # "a meal plan", "my plan": not a product tier
        ends = c.ended or _lemma(c.verb) in ("cancel", "end", "terminate")
        target = Target(" ".join(t.text for t in mods), "Plan", ids | _ids(noun_phrase(noun)), True)
        return [Draft("HAS_PLAN", target, ends=ends)]
    return None


def _state(c: Clause, s: Subject, m: dict[int, Mention]) -> list[Draft] | None:
    """Copulas: "I'm married to Tom", "I got divorced", "I'm a nurse", "I'm from Chicago"."""
    if _lemma(c.verb) not in ("be", "get", "become"):
        return None
    for comp in (x for x in c.verb.children if x.dep_ in ("acomp", "attr", "oprd")):
        word = comp.lower_
        if word in RELATIONSHIP_STATES:
            return _relationship(c, comp, m)
        if word == "allergic" and not c.negated and (what := prep(comp, "to")) is not None:
            target = target_of(what.obj, m)
            return [Draft("ALLERGIC_TO", target, what.ids | {comp.i})] if target else []
        if word in ("vegetarian", "vegan", "pescatarian"):
            return [] if c.negated else [Draft("DIET", Target(word, "Diet", {comp.i}, False))]
        if comp.dep_ == "attr" and comp.pos_ == "NOUN":
            return _attr_noun(c, comp, m)
    return _be_at_or_from(c, m) if _lemma(c.verb) == "be" else None


def _relationship(c: Clause, comp: Token, m: dict[int, Mention]) -> list[Draft]:
    word = comp.lower_
    partner = prep(comp, "to")
    if partner is not None and word in ("married", "engaged"):
        target = target_of(partner.obj, m, type_hint="Person")
        rel = "MARRIED_TO" if word == "married" else "ENGAGED_TO"
        return [Draft(rel, target, partner.ids | {comp.i}, ends=c.ended)] if target and target.named else []
    if c.negated and not c.ended:
        return []  # "I'm not married" says too little
    return [Draft("RELATIONSHIP_STATUS", Target(word, "Status", {comp.i}, False), ends=c.ended)]


def _be_at_or_from(c: Clause, m: dict[int, Mention]) -> list[Draft] | None:
    """"I'm (no longer) at Acme" -> WORKS_AT; "I'm from Chicago" -> FROM."""
    at = prep(c.verb, "at")
    if at is not None and (c.ended or not c.negated):
        target = named_target(at.obj, m, "Organization")
        if target is not None and is_org(target, at.obj):
            return [Draft("WORKS_AT", target, at.ids, ends=c.ended)]
    into = prep(c.verb, "into")
    if into is not None and (c.ended or not c.negated):  # "I'm really into pottery"
        liked = target_of(into.obj, m)
        if liked is not None and not anaphoric(into.obj, liked):
            return [Draft("LIKES", liked, into.ids, ends=c.ended)]
        return []
    home = prep(c.verb, "from")
    if home is not None and not c.negated:
        target = named_target(home.obj, m, "Place")
        return [Draft("FROM", target, home.ids)] if target else []
    return None


def _attr_noun(c: Clause, noun: Token, m: dict[int, Mention]) -> list[Draft] | None:
    """"I'm a (big) fan of jazz", "I'm a software engineer at Google", "I'm a student at MIT"."""
    if _lemma(noun) == "fan":
        of = prep(noun, "of")
        if of is None:
            return []
        rel = "DISLIKES" if c.negated and not c.ended else "LIKES"
        extra = {noun.i} | of.ids | {t.i for t in noun.lefts}
        targets = [t for t in (target_of(o, m) for o in with_conj(of.obj)) if t]
        return [Draft(rel, t, extra, ends=c.ended) for t in targets]
    if c.negated and not c.ended:
        return []
    where = prep(noun, "at", "for", "with") or prep(c.verb, "at", "for")
    org = named_target(where.obj, m, "Organization") if where else None
    if _lemma(noun) == "student":
        return [Draft("STUDIES_AT", org, {noun.i} | where.ids, ends=c.ended)] if org and where else None
    if _lemma(noun) not in OCCUPATIONS or not plain_title(noun):
        return None
    phrase = [t for t in noun_phrase(noun) if t.i <= noun.i]
    title = Target(canonical_name(phrase), "JobTitle", _ids(phrase), False)
    drafts = [Draft("JOB_TITLE", title, ends=c.ended)]
    if org is not None and where is not None:
        drafts.append(Draft("WORKS_AT", org, _ids(phrase) | where.ids, ends=c.ended))
    return drafts


def _residence(c: Clause, s: Subject, m: dict[int, Mention]) -> list[Draft] | None:
    """"I live in Denver", "I moved to Denver", "I moved out of Boston", "from Boston to Denver"."""
    lemma = _lemma(c.verb)
    if lemma in ("live", "reside"):
        where = prep(c.verb, "in", "at")
        target = named_target(where.obj, m, "Place") if where else None
        if target is None or where is None or (c.negated and not c.ended) or c.past:
            return []
        return [Draft("LIVES_IN", target, where.ids, ends=c.ended)]
    if lemma in ("base", "settle") or (lemma == "leave" and prep(c.verb, "for") is not None):
        return _based_or_left(c, lemma, m)
    if lemma not in ("move", "relocate"):
        return None
    if c.negated or not c.past:
        return []  # "I'm moving to Denver" is a plan
    drafts = []
    to = prep(c.verb, "to", "into", "back to", "in")
    away = prep(c.verb, "out of", "away from", "from")
    if to is not None and _lemma(to.obj) in DWELLINGS:  # "moved into a new apartment in Denver"
        inner = prep(to.obj, "in", "at")
        to = PrepObj(to.ids | _ids(noun_phrase(to.obj)) | inner.ids, inner.obj) if inner is not None else None
    if to is not None and (new := named_target(to.obj, m, "Place")) is not None:
        drafts.append(Draft("LIVES_IN", new, to.ids))
    if away is not None and (old := named_target(away.obj, m, "Place")) is not None:
        drafts.append(Draft("LIVES_IN", old, away.ids, ends=True))
    return drafts


def _based_or_left(c: Clause, lemma: str, m: dict[int, Mention]) -> list[Draft] | None:
    """"I'm based in Denver", "finally settled in Denver", "I left Boston for Denver"."""
    if c.negated:
        return []
    if lemma == "leave":
        to, old = prep(c.verb, "for"), dobj(c.verb)
        new = named_target(to.obj, m, "Place") if to is not None else None
        if to is None or new is None or new.type != "Place" or not c.past:
            return None  # "I left Acme for Stripe" is a job change: the work rule's business
        drafts = [Draft("LIVES_IN", new, to.ids)]
        gone = named_target(old, m, "Place") if old is not None else None
        if gone is not None and gone.type == "Place" and old is not None:
            drafts.append(Draft("LIVES_IN", gone, {old.i}, ends=True))
        return drafts
    where = prep(c.verb, "in", "into", "down in", "out of")
    if where is not None and _lemma(where.obj) in DWELLINGS:
        where = prep(where.obj, "in")
    target = named_target(where.obj, m, "Place") if where is not None else None
    if target is None or where is None or (lemma == "settle" and c.verb.tag_ not in ("VBD", "VBN")):
        return []
    return [Draft("LIVES_IN", target, where.ids)]


def _partner(c: Clause, s: Subject, m: dict[int, Mention]) -> list[Draft] | None:
    """"I married Tom", "We got divorced", "I got married last year", "I'm dating Tom"."""
    lemma, obj = _lemma(c.verb), dobj(c.verb)
    if lemma not in ("marry", "divorce", "engage", "separate", "date", "wed"):
        return None
    if c.negated or (lemma == "date" and c.past):
        return []
    if obj is not None:
        target = target_of(obj, m, type_hint="Person")
        if target is None or not target.named or target.type not in ("Person", "Topic"):
            return [] if lemma != "date" else None
        target.type = "Person"
        rel = {"marry": "MARRIED_TO", "wed": "MARRIED_TO", "date": "DATING"}.get(lemma)
        if rel is None:  # "I divorced Tom": the marriage ended
            return [Draft("MARRIED_TO", target, {obj.i}, ends=True)]
        return [Draft(rel, target, {obj.i})]
    passive = any(t.dep_ == "auxpass" for t in c.verb.children) or c.verb.tag_ == "VBN"
    if not passive or lemma == "date":
        return None
    word = {"marry": "married", "wed": "married", "engage": "engaged", "divorce": "divorced",
            "separate": "separated"}[lemma]
    partner = prep(c.verb, "to")
    if partner is not None and word in ("married", "engaged"):
        target = target_of(partner.obj, m, type_hint="Person")
        if target is not None and target.named:
            target.type = "Person"
            return [Draft("MARRIED_TO" if word == "married" else "ENGAGED_TO", target, partner.ids)]
    return [Draft("RELATIONSHIP_STATUS", Target(word, "Status", set(), False))]


def _work(c: Clause, s: Subject, m: dict[int, Mention]) -> list[Draft] | None:
    """"I work at/for/as", "I joined Google", "I started at Stripe", "I got a job at X", endings."""
    lemma, obj = _lemma(c.verb), dobj(c.verb)
    if lemma == "work":
        return _work_at(c, m)
    if lemma in ("quit", "leave", "resign", "retire", "fire", "lay"):
        return _job_end(c, obj, m)
    if c.negated:
        return None
    if lemma == "join" and obj is not None:
        target = target_of(obj, m)
        if target is None:
            return []
        if target.named and target.type not in ("Person", "Place"):
            target.type = "Organization"
            return [Draft("WORKS_AT", target)]
        return [] if target.named else [Draft("MEMBER_OF", target)]
    job_start = lemma in ("start", "get", "land", "accept", "take", "begin")
    offer = lemma == "accept" and obj is not None and _lemma(obj) == "offer"  # "accepted an offer from X"
    if job_start and (obj is None or _lemma(obj) in JOB_NOUNS or offer):
        where = prep(obj, "at", "with", "from") or prep(c.verb, "at", "from")
        target = named_target(where.obj, m, "Organization") if where else None
        if target is None or where is None:
            return None if obj is None else []
        return [Draft("WORKS_AT", target, where.ids | (_ids(noun_phrase(obj)) if obj is not None else set()))]
    if lemma in ("hire", "employ") and c.verb.tag_ == "VBN":
        where = prep(c.verb, "by", "at")
        target = named_target(where.obj, m, "Organization") if where else None
        return [Draft("WORKS_AT", target, where.ids)] if target and where else []
    return None


def _work_at(c: Clause, m: dict[int, Mention]) -> list[Draft]:
    if c.negated and not c.ended:
        return []
    drafts: list[Draft] = []
    title = prep(c.verb, "as")
    if title is not None and not c.ended:
        phrase = noun_phrase(title.obj)
        job = Target(canonical_name(phrase), "JobTitle", _ids(phrase), False)
        drafts.append(Draft("JOB_TITLE", job, title.ids))
    where = prep(c.verb, "at", "for") or (prep(title.obj, "at", "for") if title is not None else None)
    target = named_target(where.obj, m, "Organization") if where else None
    if target is not None and where is not None:  # "I work at Acme as a designer": both facts
        relation = "WORKED_AT" if c.past and not c.ended else "WORKS_AT"  # a past job is not the current one
        drafts.append(Draft(relation, target, where.ids, ends=c.ended))
    return drafts


def _job_end(c: Clause, obj: Token | None, m: dict[int, Mention]) -> list[Draft]:
    """"I quit my job at Acme", "I left Acme", "I retired from Acme" -> WORKS_AT ends."""
    extra: set[int] = set()
    if obj is not None and _lemma(obj) in JOB_NOUNS:
        extra = _ids(noun_phrase(obj))
        where = prep(obj, "at", "with", "in") or prep(c.verb, "at", "with")
    elif obj is not None:
        where = PrepObj(set(), obj)
    else:
        where = prep(c.verb, "from", "at")
    if where is None or c.negated:
        return []
    target = target_of(where.obj, m)
    if target is None or not target.named or target.type == "Person":
        return []
    if target.type == "Place" and (len(target.name.split()) > 1 or target.name.lower() in city_names()):
        return []  # "I left Denver" may be a trip: say nothing rather than guess
    target.type = "Organization"
    return [Draft("WORKS_AT", target, extra | where.ids, ends=True, attributes={"ended_by": _lemma(c.verb)})]


def _study(c: Clause, s: Subject, m: dict[int, Mention]) -> list[Draft] | None:
    """"I study at MIT", "I attend Stanford University", "I go to Boston College"."""
    lemma = _lemma(c.verb)
    if lemma in ("study", "enroll"):
        where = prep(c.verb, "at", "in")
    elif lemma in ("attend", "go") and not c.past and not c.negated:
        obj = dobj(c.verb) if lemma == "attend" else None
        where = PrepObj(set(), obj) if obj is not None else prep(c.verb, "to")
    else:
        return None
    target = named_target(where.obj, m, "Organization") if where else None
    is_school = target is not None and any(w in target.name.lower() for w in SCHOOL_WORDS)
    if target is None or where is None or c.negated or (lemma in ("attend", "go") and not is_school):
        return None if lemma in ("attend", "go") else []
    return [Draft("STUDIES_AT", target, where.ids)]


STATE_RULES = (_plan, _state, _residence, _partner, _work, _study)
