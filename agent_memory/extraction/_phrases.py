"""Facts stated by noun phrases rather than by a subject's verb, for the offline extractor.

"My favorite book is Dune" / "Dune is my favourite book" -> FAVORITE_BOOK;
"my sister Ana" / "Ana is my sister" -> HAS_SISTER; "my dog Max" -> HAS (an Animal);
"my new place in Denver" -> LIVES_IN; "my first day at Stripe" -> WORKS_AT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._clauses import Voice
from ._lexicon import DWELLINGS, FAMILY, FAVORITE_TYPES, FIRST_PERSON, HEDGES, JUNK_HEADS, PETS, SECOND_PERSON
from ._mentions import Mention
from ._targets import Target, target_of

__all__ = ["PhraseFact", "sentence_facts"]

Token = Any
_NAME_DEPS = ("appos", "npadvmod", "compound")
_FAVORITE = ("favorite", "favourite", "fave", "favorit")


@dataclass
class PhraseFact:
    """A fact whose sentence is composed rather than rebuilt from a clause."""

    source: str
    source_type: str
    relation: str
    target: Target
    text: str


def _owner(noun: Token, voice: Voice, mentions: dict[int, Mention]) -> str | None:
    """Whose noun this is: "my" -> the speaker, "your" -> the addressee, "Caroline's" -> Caroline."""
    poss = next((c for c in noun.children if c.dep_ == "poss"), None)
    if poss is None:
        return None
    low = poss.lower_
    if low in FIRST_PERSON:
        return voice.me
    if low in SECOND_PERSON:
        return voice.you
    mention = mentions.get(poss.i)
    if mention is not None and mention.type == "Person":
        return voice.canonical(mention.name)
    return None


def _favorite(noun: Token) -> str | None:
    """The category of "favorite <category>" ("TV show"), else None."""
    if not any(c.dep_ == "amod" and c.lower_ in _FAVORITE for c in noun.children):
        return None
    words = [c for c in noun.lefts if c.dep_ in ("compound", "amod") and c.lower_ not in _FAVORITE]
    return " ".join([*(w.lower_ for w in words), noun.lower_])


def _copula_pairs(sent: Any) -> list[tuple[Token, Token, Token]]:
    """(verb, subject, attribute) for each "X is Y" clause of the sentence."""
    out = []
    for verb in sent:
        if verb.lemma_ != "be" or verb.dep_ not in ("ROOT", "conj", "ccomp"):
            continue
        if any(c.tag_ == "MD" or c.dep_ == "neg" for c in verb.children):
            continue
        subj = next((c for c in verb.children if c.dep_ == "nsubj"), None)
        attr = next((c for c in verb.children if c.dep_ in ("attr", "acomp")), None)
        if subj is not None and attr is not None:
            out.append((verb, subj, attr))
    return out


def _favorite_facts(sent: Any, voice: Voice, mentions: dict[int, Mention]) -> list[PhraseFact]:
    out = []
    for _verb, subj, attr in _copula_pairs(sent):
        for noun, value in ((subj, attr), (attr, subj)):
            category = _favorite(noun) if noun.lemma_.lower() not in JUNK_HEADS else None
            owner = _owner(noun, voice, mentions) if category else None
            if not category or not owner:
                continue
            hint = FAVORITE_TYPES.get(noun.lemma_.lower())
            if value.pos_ == "ADJ":  # "my favorite color is blue"
                target: Target | None = Target(value.text, hint or "Topic", {value.i}, False)
            else:
                target = target_of(value, mentions, type_hint=hint)
            if target is None or target.name.lower() == owner.lower():
                continue
            relation = "FAVORITE_" + category.upper().replace(" ", "_").replace("-", "_")
            text = f"{owner}'s favorite {category} is {target.name}."
            out.append(PhraseFact(owner, "Person", relation, target, text))
    return out


def _family_copula(sent: Any, voice: Voice, mentions: dict[int, Mention]) -> list[PhraseFact]:
    out = []
    for _verb, subj, attr in _copula_pairs(sent):
        for noun, who in ((attr, subj), (subj, attr)):
            lemma = noun.lemma_.lower()
            owner = _owner(noun, voice, mentions) if lemma in FAMILY else None
            mention = mentions.get(who.i)
            if not owner or mention is None or mention.type not in ("Person", "Topic") or who.pos_ != "PROPN":
                continue
            target = Target(voice.canonical(mention.name), "Person", set(), True)
            if target.name != owner:
                text = f"{target.name} is {owner}'s {noun.lower_}."
                out.append(PhraseFact(owner, "Person", FAMILY[lemma], target, text))
    return out


def _appositions(sent: Any, voice: Voice, mentions: dict[int, Mention]) -> list[PhraseFact]:
    out = []
    for noun in sent:
        lemma = noun.lemma_.lower()
        if noun.pos_ != "NOUN" or (lemma not in FAMILY and lemma not in PETS):
            continue
        owner = _owner(noun, voice, mentions)
        name = next((c for c in noun.rights if c.dep_ in _NAME_DEPS and c.pos_ == "PROPN"), None)
        if name is None or noun.tag_ == "NNS" or any(t.is_punct for t in noun.doc[noun.i + 1 : name.i]):
            continue  # "your kids, John": a plural, or a name after a comma, is someone addressed
        mention = mentions.get(name.i) if name is not None else None
        if not owner or mention is None or mention.type not in ("Person", "Topic", "Animal"):
            continue
        pet = lemma in PETS
        target = Target(voice.canonical(mention.name), "Animal" if pet else "Person", set(), True)
        if target.name == owner:
            continue
        relation = "HAS" if pet else FAMILY[lemma]
        text = f"{target.name} is {owner}'s {noun.lower_}."
        out.append(PhraseFact(owner, "Person", relation, target, text))
    return out


_NOT_HOME = frozenset({"old", "former", "previous", "childhood", "vacation", "holiday", "summer", "second",
                       "weekend", "dream", "future", "ideal", "last", "parents", "rental"})


def _asserted_noun(noun: Token) -> bool:
    """The noun's governing verb is neither negated, nor modal, nor hedged."""
    node = noun
    while node.pos_ not in ("VERB", "AUX") and node.head.i != node.i:
        node = node.head
    return not any(c.dep_ == "neg" or c.tag_ == "MD" or c.lower_ in HEDGES for c in node.children)


def _where_phrases(sent: Any, voice: Voice, mentions: dict[int, Mention]) -> list[PhraseFact]:
    """"my new place in Denver" -> LIVES_IN Denver; "my first day at Stripe" -> WORKS_AT Stripe."""
    out = []
    for noun in sent:
        lemma = noun.lemma_.lower()
        home = lemma in DWELLINGS
        first_day = lemma in ("day", "week", "month") and any(c.lower_ == "first" for c in noun.children)
        if noun.pos_ != "NOUN" or not (home or first_day) or noun.tag_ == "NNS":
            continue
        if home and any(c.lower_ in _NOT_HOME for c in noun.subtree if c.i < noun.i):
            continue
        owner = _owner(noun, voice, mentions)
        word = "in" if home else "at"
        obj = next((o for p in noun.children if p.dep_ == "prep" and p.lower_ == word
                    for o in p.children if o.dep_ == "pobj"), None)
        mention = mentions.get(obj.i) if obj is not None else None
        want = ("Place",) if home else ("Organization", "Topic")
        if not owner or mention is None or mention.type not in want or not _asserted_noun(noun):
            continue
        target = Target(mention.name, "Place" if home else "Organization", set(), True)
        if home:
            out.append(PhraseFact(owner, "Person", "LIVES_IN", target, f"{owner} lives in {target.name}."))
        else:
            out.append(PhraseFact(owner, "Person", "WORKS_AT", target, f"{owner} works at {target.name}."))
    return out


def sentence_facts(sent: Any, voice: Voice, mentions: dict[int, Mention]) -> list[PhraseFact]:
    """Favourites, family members, named pets, homes and first days stated in one (asserted) sentence."""
    return [
        *_favorite_facts(sent, voice, mentions),
        *_family_copula(sent, voice, mentions),
        *_appositions(sent, voice, mentions),
        *_where_phrases(sent, voice, mentions),
    ]
