"""Relation rules for tastes and acts: likes, possessions, visits, and any other verb with an object.

See ``_rules`` for the contract every rule follows.
"""

from __future__ import annotations

from typing import Any

from ._clauses import Clause, Subject
from ._lexicon import (
    BARE_GERUNDS,
    FAMILY,
    GENERIC_PREPS,
    LIGHT_VERBS,
    LIKE_VERBS,
    OUTINGS,
    PETS,
    POSSESSIONS,
    VISIT_VERBS,
)
from ._mentions import Mention, canonical_name, is_junk, noun_phrase
from ._render import gerund, past_form, verb_lemma
from ._targets import (
    Draft,
    Target,
    anaphoric,
    dobj,
    prep,
    preps,
    target_of,
    verb_like_list_item,
    with_conj,
)
from ._targets import (
    lemma as _lemma,
)
from ._targets import (
    token_ids as _ids,
)

__all__ = ["ACT_RULES"]

_HABIT_PREPS = frozenset(("in", "on", "at", "about", "with", "for", "around", "through"))
_BARE_ADVERBS = frozenset(("too", "also", "really", "just", "so", "still", "always", "usually", "often", "much"))

Token = Any


def _preference(c: Clause, s: Subject, m: dict[int, Mention]) -> list[Draft] | None:
    """"I love pottery", "I don't like olives (anymore)", "I can't stand X", "I enjoy playing chess"."""
    lemma = _lemma(c.verb)
    rel, negated = LIKE_VERBS.get(lemma), c.negated
    if lemma == "stand" and c.negated:
        rel, negated = "DISLIKES", False
    if rel is None:
        return None
    if negated and not c.ended:
        if rel == "DISLIKES":
            return []  # "I don't hate it" says little
        rel = "DISLIKES"
    obj = dobj(c.verb)
    comp = next((x for x in c.verb.children if x.dep_ == "xcomp"), None)
    if obj is None and comp is not None and comp.pos_ == "VERB":
        return _activity(c, rel, comp, m)
    if obj is not None and obj.pos_ == "VERB" and obj.tag_ == "VBG":  # "I've always enjoyed painting"
        return _activity(c, rel, obj, m)
    heads = with_conj(obj) if obj is not None else [comp] if comp is not None and comp.pos_ == "NOUN" else []
    drafts = []
    for head in heads:
        target = target_of(head, m)
        if target is None or anaphoric(head, target) or (_lemma(head) in FAMILY and not target.named):
            continue
        drafts.append(Draft(rel, target, ends=c.ended))
    return drafts


def _activity(c: Clause, rel: str, comp: Token, m: dict[int, Mention]) -> list[Draft]:
    """"I enjoy playing chess", "I love to paint" -> LIKES "playing chess" / "painting"."""
    if comp.text[:1].isupper() and not comp.is_sent_start:  # "I loved Becoming Nicole": a title
        cut = {t.i for p in comp.children if p.dep_ == "prep" and p.lower_ == "by" for t in p.subtree}
        title = [t for t in comp.subtree if not t.is_punct and t.i not in cut]
        return [Draft(rel, Target(" ".join(t.text for t in title), "Work", _ids(title), True), ends=c.ended)]
    lemma, obj = verb_lemma(comp), dobj(comp)
    if lemma in LIGHT_VERBS or (obj is not None and (is_junk(obj) or anaphoric(obj, strict=False))):
        return []
    words, ids = [gerund(lemma)], {comp.i} | {t.i for t in comp.children if t.dep_ in ("aux", "prt")}
    if obj is None:
        # "loves watching", "loves escaping into ...", "loves knowing that ...": too little alone; a real
        # verb's place or topic says what the habit is ("loves hiking in the mountains")
        if lemma in BARE_GERUNDS or comp.tag_ not in ("VBG", "VB") or any(x.dep_ == "ccomp" for x in comp.children):
            return []
        where = next((p for p in comp.children if p.dep_ == "prep" and p.lower_ in _HABIT_PREPS
                      and any(x.dep_ == "pobj" for x in p.children)), None)
        if where is not None:
            place = noun_phrase(next(x for x in where.children if x.dep_ == "pobj"))
            if any(is_junk(t) or anaphoric(t, strict=False) for t in place if t.pos_ in ("NOUN", "PROPN", "PRON")):
                return []
            words += [where.lower_, " ".join(t.text for t in place)]
            ids |= {where.i} | _ids(place)
        elif any(x.dep_ == "prep" or (x.dep_ == "advmod" and x.lower_ not in _BARE_ADVERBS) for x in comp.children):
            return []  # "loves going back to it", "loves hanging out": the rest does not say
    else:
        phrase = noun_phrase(obj)
        words.append(canonical_name(phrase))
        ids |= _ids(phrase)
    return [Draft(rel, Target(" ".join(w for w in words if w), "Activity", ids, False), ends=c.ended)]


def _possession(c: Clause, s: Subject, m: dict[int, Mention]) -> list[Draft] | None:
    """"I have a dog named Max", "I own a Tesla", "I adopted a cat named Luna"."""
    lemma = _lemma(c.verb)
    if lemma not in ("have", "own", "adopt", "get", "buy", "rescue"):
        return None
    optional = lemma in ("get", "buy")  # "got a job", "bought a book" belong to later rules
    first = dobj(c.verb)
    if first is None or (c.negated and not c.ended):
        return None if optional else []
    if lemma == "have" and c.past and not c.ended:
        return []  # "I had a dog" says nothing about now
    found = [_possessed(c, lemma, obj, m) for obj in with_conj(first)]
    if all(d is None for d in found):
        return None if optional else []
    return [x for d in found if d for x in d]


def _possessed(c: Clause, lemma: str, obj: Token, m: dict[int, Mention]) -> list[Draft] | None:
    head = _lemma(obj)
    named = next((x for x in obj.children if x.dep_ == "acl" and x.lemma_ == "name"), None)
    kids = named.children if named is not None else ()
    name_tok = next((x for x in kids if x.dep_ in ("oprd", "dobj", "attr")), None)
    if named is not None and name_tok is not None and (head in PETS or head in FAMILY):
        rel = "HAS" if head in PETS else FAMILY[head]
        target = target_of(name_tok, m, type_hint="Animal" if head in PETS else "Person")
        extra = _ids(noun_phrase(obj)) | {named.i}
        return [Draft(rel, target, extra, attributes={"kind": head})] if target else []
    if head in FAMILY:
        return []  # "I have two kids": no one named
    target = target_of(obj, m)
    if target is None or (lemma in ("get", "buy") and head not in PETS):
        return None
    if lemma == "have" and not (head in PETS or head in POSSESSIONS or target.named):
        return []  # "I have a question", "I have time"
    if target.named and target.type in ("Group", "Organization", "Topic"):
        target.type = "Product"  # "I own a Tesla": a named thing one owns is a product
    return [Draft("OWNS" if lemma == "own" else "HAS", target, _ids(noun_phrase(obj)), ends=c.ended)]


def _visit(c: Clause, s: Subject, m: dict[int, Mention]) -> list[Draft] | None:
    """"I visited Paris", "I went to a support group", "I went hiking" (past tense only)."""
    lemma = _lemma(c.verb)
    if lemma != "visit" and lemma not in VISIT_VERBS:
        return None
    if c.negated:
        return []
    if not c.past:
        return None
    if lemma == "visit":
        obj = dobj(c.verb)
        target = target_of(obj, m) if obj is not None else None
        return [Draft("VISITED", target)] if target else []
    outing = prep(c.verb, "on", "for")  # "went on a hike", "went for a run" -> WENT hiking
    if lemma == "go" and outing is not None and _lemma(outing.obj) in OUTINGS and not dobj(c.verb):
        activity = Target(OUTINGS[_lemma(outing.obj)], "Activity", outing.ids | _ids(noun_phrase(outing.obj)), False)
        return [Draft("WENT", activity)]
    act = next((x for x in c.verb.children if x.dep_ == "xcomp" and x.tag_ == "VBG"), None)
    if lemma == "go" and act is not None:
        return _activity(c, "WENT", act, m)
    to = prep(c.verb, "to")
    if to is None:
        return None
    target = target_of(to.obj, m)
    specific = target is not None and (target.named or any(
        t.dep_ in ("det", "poss", "compound", "amod") for t in to.obj.lefts))
    return [Draft("VISITED", target, to.ids)] if target and specific else []  # not "went to bed"


def _took_to(c: Clause, s: Subject, m: dict[int, Mention]) -> list[Draft] | None:
    """"I took my kids to a park" -> VISITED a park (with whom stays in the sentence)."""
    if _lemma(c.verb) not in ("take", "bring") or c.negated or not c.past:
        return None
    obj, to = dobj(c.verb), prep(c.verb, "to")
    if obj is None or to is None or _lemma(obj) not in FAMILY and obj.pos_ != "PROPN":
        return None
    target = target_of(to.obj, m)
    specific = target is not None and (target.named or any(t.dep_ in ("det", "poss") for t in to.obj.lefts))
    return [Draft("VISITED", target, to.ids | _ids(noun_phrase(obj)))] if target and specific else None


def _generic(c: Clause, s: Subject, m: dict[int, Mention]) -> list[Draft] | None:
    """Any other verb with an object: "Caroline attended an LGBTQ support group" -> ATTENDED."""
    v = c.verb
    lemma = verb_lemma(v)
    passive = any(t.dep_ in ("auxpass", "nsubjpass") for t in v.children)
    if c.negated or s.kind == "you" or v.pos_ != "VERB" or lemma in LIGHT_VERBS or passive:
        return []
    if not lemma.isalpha():
        return []
    prt = [t for t in v.children if t.dep_ == "prt"]
    past = v.lower_ if v.tag_ in ("VBD", "VBN") and v.lower_.isalpha() else past_form(lemma)
    base = "_".join([past, *(t.lower_ for t in prt)])
    obj = dobj(v)
    if obj is not None:
        heads = [(o, target_of(o, m)) for o in with_conj(obj) if o.i == obj.i or not verb_like_list_item(o)]
        return [Draft(base, t, _ids(prt)) for o, t in heads if t and not anaphoric(o, t, strict=False)]
    for word, po in preps(v):
        if word not in GENERIC_PREPS or po.obj.ent_type_ in ("DATE", "TIME"):
            continue
        target = target_of(po.obj, m)
        if target is not None and (target.named or any(t.dep_ in ("det", "poss") for t in po.obj.lefts)):
            return [Draft(f"{base}_{word}", target, po.ids | _ids(prt))]
        return []
    return []


ACT_RULES = (_preference, _possession, _visit, _took_to, _generic)
