"""Snapshot tests of the rendered prompts: a prompt change shows up as a reviewed diff.

After an intended change, refresh with ``UPDATE_SNAPSHOTS=1 pytest tests/llm/test_prompts.py``, bump
the prompt's ``VERSION``, and re-record the cassettes (``python scripts/record_cassettes.py``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from agent_memory.extraction.ontology import Ontology
from agent_memory.extraction.prompts import VERSIONS, extract, resolve, summarize
from agent_memory.llm._schema import response_schema

SNAPSHOTS = Path(__file__).parent / "snapshots"


class Pet(BaseModel):
    """An animal the user keeps."""

    species: str = Field(description="dog, cat, ...")


def render(messages: list[dict[str, str]]) -> str:
    return "\n\n".join(f"=== {m['role']} ===\n{m['content']}" for m in messages) + "\n"


CASES = {
    "extract": extract.build_messages(extract.ExtractInput(
        user_name="Jane Smith",
        messages=[extract.PromptMessage(index=0, speaker="Jane Smith", role="user", time="2024-06-12T18:30:00Z",
                                        text="I moved to Denver last week!\nStill at Acme."),
                  extract.PromptMessage(index=1, speaker="assistant", role="assistant",
                                        time="2024-06-12T18:30:30Z", text="Congratulations!")],
        known_entities=["Jane Smith", "Boston", "Acme Corp"], known_facts=["Jane Smith lives in Boston."])),
    "extract_ontology": extract.build_messages(extract.ExtractInput(
        user_name="Jane Smith", ontology=Ontology(entity_types=[Pet]).spec(),
        messages=[extract.PromptMessage(index=0, speaker="Jane Smith", role="user", time="2024-06-15T08:00:00Z",
                                        text="I adopted a cat named Miso.")])),
    "resolve": resolve.build_messages(resolve.ResolveInput(
        new=[resolve.NewFact(source="Jane Smith", relation="SOLD", target="Honda Civic",
                             fact="Jane Smith sold her Honda Civic.", valid_at="2024-06-12", compare_with=[1, 2])],
        existing=[resolve.ResolveFact(source="Jane Smith", relation="OWNS", target="Honda Civic",
                                      fact="Jane Smith drives a Honda Civic.", valid_at="2024-03-02"),
                  resolve.ResolveFact(source="Jane Smith", relation="LIKES", target="hiking",
                                      fact="Jane Smith likes to go hiking.")])),
    "summarize": summarize.build_messages(summarize.SummaryInput(
        user_name="Jane Smith", current_summary="Jane Smith lives in Boston.",
        observations=[summarize.ObservationIn(key="reading_habit", text="Reads a lot.")],
        new_facts=["Jane Smith lives in Denver."], closed_facts=["Jane Smith lives in Boston."])),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_prompt_snapshot(case: str) -> None:
    path = SNAPSHOTS / f"{case}.txt"
    text = render(CASES[case])
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"prompt {case} changed: review, bump VERSION, UPDATE_SNAPSHOTS=1"


def test_versions_are_declared() -> None:
    assert VERSIONS == {"extract": "extract-2", "resolve": "resolve-2", "summarize": "summarize-1"}


@pytest.mark.parametrize("model", [extract.ExtractOutput, extract.TypedExtractOutput, resolve.ResolveOutput,
                                   summarize.SummaryOutput])
def test_response_models_are_strict_compatible(model: type[BaseModel]) -> None:
    schema, strict = response_schema(model)
    assert strict
    text = json.dumps(schema)
    assert '"default"' not in text and '"title"' not in text


def test_free_form_fields_fall_back_to_non_strict() -> None:
    class Loose(BaseModel):
        data: dict[str, int]

    assert response_schema(Loose)[1] is False


def test_prompts_are_pure_functions() -> None:
    again = extract.build_messages(extract.ExtractInput(user_name="A", messages=[]))
    assert again == extract.build_messages(extract.ExtractInput(user_name="A", messages=[]))
    assert "Known entities: none" in again[1]["content"]
