"""LLMExtractor, Ontology, judge_facts and summarize_with_llm against an in-process scripted client."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from pydantic import BaseModel, Field

from agent_memory.errors import ConfigError, ProviderError
from agent_memory.extraction.base import ExtractionContext
from agent_memory.extraction.llm import LLMExtractor, parse_model_date
from agent_memory.extraction.ontology import Ontology
from agent_memory.extraction.prompts import extract
from agent_memory.ingest.judge import CandidateFact, ExistingFact, judge_facts
from agent_memory.ingest.llm_summary import summarize_with_llm

CTX = ExtractionContext(user_id="jane", user_name="Jane Smith", user_aliases=["Jane"],
                        known_entities=["Jane Smith", "Boston"], known_facts=["Jane Smith lives in Boston."])


def fact(source: str, relation: str, target: str, text: str = "A fact.", **kw: object) -> dict[str, object]:
    return {"source": source, "relation": relation, "target": target, "fact": text, **kw}


def test_batches_by_messages_and_chars(make_llm_offline: Any, make_episodes: Any) -> None:
    eps = make_episodes("jane", "2024-03-02T10:00:00Z", [("Jane", f"message {i}") for i in range(45)])
    llm = make_llm_offline([{"messages": []}] * 3)
    out = LLMExtractor(llm, max_batch_messages=20).extract(eps, CTX)
    assert len(out) == 45 and [len(a[3]) for a in llm.asked] == [20, 20, 5]
    assert all(a[2] == "extract" for a in llm.asked)

    long = make_episodes("jane", "2024-03-02T10:00:00Z", [("Jane", "x" * 700)] * 3)
    llm = make_llm_offline([{"messages": []}] * 2)
    LLMExtractor(llm, max_batch_chars=1500).extract(long, CTX)
    assert [len(a[3]) for a in llm.asked] == [2, 1]


def test_maps_refs_pronouns_types_and_dates(make_llm_offline: Any, make_episodes: Any) -> None:
    eps = make_episodes("jane", "2024-03-02T10:00:00Z", [("Jane", "I love Boston."), ("Priya", "Me too!")])
    answer = {"messages": [
        {"index": 0, "entities": [{"name": "E2", "type": "place", "summary": " "}],
         "facts": [fact("I", "loves", "E2", "Jane Smith loves Boston.", valid_at="2024-03"),
                   fact("E1", "LIKES", "F1", "nonsense"),  # F1 is a fact, not an entity: dropped
                   fact("E1", "VISITED", "Boston", "Jane Smith visited Boston.", valid_at="sometime")]},
        {"index": 1, "facts": [fact("me", "LOVES", "E2", "Priya loves Boston.", valid_at="2024-03-01T12:00:00")]},
        {"index": 9, "facts": [fact("E1", "LIKES", "E2")]},  # no such message: dropped
    ]}
    extractor = LLMExtractor(make_llm_offline([answer]))
    jane, priya = extractor.extract(eps, CTX)

    assert [(e.name, e.type, e.summary) for e in jane.entities] == [("Boston", "Place", None)]
    loves, visited = jane.facts
    assert (loves.source, loves.relation, loves.target) == ("Jane Smith", "LOVES", "Boston")
    assert loves.valid_at == datetime(2024, 3, 1, tzinfo=timezone.utc) and loves.target_type == "Place"
    assert visited.valid_at is None  # "sometime" is not a date: the episode time will be used
    assert priya.facts[0].source == "Priya"
    assert priya.facts[0].valid_at == datetime(2024, 3, 1, 12, tzinfo=timezone.utc)
    stats = extractor.stats
    assert (stats.calls, stats.messages, stats.dropped_references, stats.dropped_items, stats.invalid_dates) == \
        (1, 2, 1, 2, 1)


def test_first_thread_names_that_look_like_ids_are_kept(make_llm_offline: Any, make_episodes: Any) -> None:
    eps = make_episodes("jane", "2024-03-02T10:00:00Z", [("Jane", "I watch F1 every weekend.")])
    answer = {"messages": [{"index": 0, "facts": [fact("Jane Smith", "WATCHES", "F1")]}]}
    ctx = CTX.model_copy(update={"known_entities": [], "known_facts": []})
    (out,) = LLMExtractor(make_llm_offline([answer])).extract(eps, ctx)
    assert out.facts[0].target == "F1"  # nothing was numbered, so "F1" is a name


def test_provider_errors_propagate(make_llm_offline: Any, make_episodes: Any) -> None:
    eps = make_episodes("jane", "2024-03-02T10:00:00Z", [("Jane", "hello")])
    with pytest.raises(ProviderError):
        LLMExtractor(make_llm_offline([ProviderError("down")])).extract(eps, CTX)
    with pytest.raises(ConfigError):
        LLMExtractor(make_llm_offline(), max_batch_messages=0)


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-06-05", datetime(2024, 6, 5, tzinfo=timezone.utc)),
    ("2024-06-05T10:00:00+02:00", datetime(2024, 6, 5, 8, tzinfo=timezone.utc)),
    ("2024-06-05T10:00:00Z", datetime(2024, 6, 5, 10, tzinfo=timezone.utc)),
    ("2024", datetime(2024, 1, 1, tzinfo=timezone.utc)),
    ("2024-02-30", None), ("last week", None), (None, None), ("", None),
])
def test_parse_model_date(text: str | None, expected: datetime | None) -> None:
    assert parse_model_date(text) == expected


class Pet(BaseModel):
    """An animal the user keeps."""

    species: str = Field(description="dog, cat, ...")
    age_years: int | None = None


class AdoptedPet(BaseModel):
    """The user adopted this animal."""

    shelter: str | None = None


def test_ontology_in_prompt_and_attributes_validated(make_llm_offline: Any, make_episodes: Any) -> None:
    ontology = Ontology(entity_types=[Pet], edge_types=[AdoptedPet])
    eps = make_episodes("jane", "2024-06-15T08:00:00Z", [("Jane", "I adopted Miso, a 2 year old cat, from PAWS.")])
    answer = {"messages": [{"index": 0,
                            "entities": [{"name": "Miso", "type": "pet", "attributes": [
                                {"name": "species", "value": "cat"}, {"name": "age_years", "value": "2"},
                                {"name": "colour", "value": "grey"}]}],
                            "facts": [fact("Jane Smith", "adopted pet", "Miso", "Jane Smith adopted Miso.",
                                           attributes=[{"name": "shelter", "value": "PAWS"}])]}]}
    llm = make_llm_offline([answer])
    (out,) = LLMExtractor(llm, ontology=ontology).extract(eps, CTX)

    messages, schema, _, _ = llm.asked[0]
    assert schema is extract.TypedExtractOutput
    pet = "- Pet: An animal the user keeps. Attributes: species (str: dog, cat, ...); age_years (int | None)"
    assert pet in messages[0]["content"]
    assert "- ADOPTED_PET: The user adopted this animal." in messages[0]["content"]
    assert out.entities[0].type == "Pet" and out.entities[0].attributes == {"species": "cat", "age_years": 2}
    assert out.facts[0].relation == "ADOPTED_PET" and out.facts[0].attributes == {"shelter": "PAWS"}
    assert out.facts[0].target_type == "Pet"


def test_ontology_refuses_non_models() -> None:
    with pytest.raises(ConfigError):
        Ontology(entity_types=[dict])  # type: ignore[list-item]


def ex(uuid: str, source: str, relation: str, target: str) -> ExistingFact:
    return ExistingFact(uuid=uuid, source=source, relation=relation, target=target, fact=f"{source} {target}")


def cand(key: str, source: str, relation: str, target: str) -> CandidateFact:
    return CandidateFact(key=key, source=source, relation=relation, target=target, fact=f"{source} {target}")


def test_judge_drops_references_outside_the_offered_facts(make_llm_offline: Any) -> None:
    existing = [ex("u-car", "Jane", "OWNS", "Civic"), ex("u-dog", "Jane", "HAS_PET", "Rex"),
                ex("u-far", "Bob", "OWNS", "Boat")]
    new = [cand("a", "Jane", "SOLD", "Civic"), cand("b", "Tom", "LIKES", "jazz")]  # b shares no endpoint
    answer = {"verdicts": [{"new": "N1", "duplicate_of": "X1", "contradicts": ["X1", "X2", "X9"]},
                           {"new": "N2", "duplicate_of": None, "contradicts": ["X1"]},
                           {"new": "garbage", "contradicts": []}]}
    llm = make_llm_offline([answer])
    a, b = judge_facts(llm, new, existing, episodes=["e1"])

    assert a.duplicate_of == "u-car" and a.contradicts == ["u-dog"]  # never both; X9 unknown
    assert b.duplicate_of is None and b.contradicts == []  # N2 was never asked
    assert "Bob" not in llm.asked[0][0][1]["content"] and llm.asked[0][3] == ["e1"]


def test_judge_refuses_duplicate_keys(make_llm_offline: Any) -> None:
    with pytest.raises(ValueError):
        judge_facts(make_llm_offline(), [cand("a", "J", "R", "T")] * 2, [ex("u", "J", "R", "X")])


def test_summary_keeps_only_meaningful_changes(make_llm_offline: Any) -> None:
    answer = {"summary": "  Jane Smith lives in Denver.  ", "observations": [
        {"key": "Favorite Author", "text": "Loves Butler and Le Guin.", "remove": False},
        {"key": "ghost", "text": "", "remove": True},
        {"key": "commute", "text": "Cycles to work.", "remove": False},
        {"key": "empty", "text": "  ", "remove": False}]}
    llm = make_llm_offline([answer])
    update = summarize_with_llm(llm, user_name="Jane Smith", current_summary="Jane Smith lives in Boston.",
                                observations=[("favorite_author", "Loves Butler.")],
                                new_facts=["Jane Smith lives in Denver."], closed_facts=["Jane Smith lives in Boston."],
                                episodes=["e1"])
    assert update.summary == "Jane Smith lives in Denver."
    assert [(o.key, o.text, o.remove) for o in update.observations] == [
        ("favorite_author", "Loves Butler and Le Guin.", False), ("commute", "Cycles to work.", False)]
    assert llm.asked[0][2] == "summarize"
