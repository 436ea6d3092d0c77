"""JsonExtractor: business events become facts a user can read, with no model at all."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from agent_memory.errors import InvalidInputError, InvalidJSONError
from agent_memory.extraction import Extraction, ExtractionContext, Extractor, JsonExtractor
from agent_memory.models import Episode, EpisodeSource

REF = datetime(2024, 11, 14, 12, 0, tzinfo=timezone.utc)
CTX = ExtractionContext(user_id="jane", user_name="Jane Smith", user_aliases=["Jane"])


def run(data: object, ex: JsonExtractor | None = None) -> Extraction:
    content = data if isinstance(data, str) else json.dumps(data)
    ep = Episode(user_id="jane", source=EpisodeSource.json, content=content, reference_time=REF)
    return (ex or JsonExtractor()).extract([ep], CTX)[0]


def by_relation(x: Extraction) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in x.facts:
        out.setdefault(f.relation, []).append(f)
    return out


def test_payment_failed_event() -> None:
    x = run({"event_type": "payment_failed", "user_id": "jane", "amount": 49.0, "currency": "USD",
             "plan": "Pro", "timestamp": "2024-11-14T09:30:00Z"})
    facts = by_relation(x)
    (event,) = facts["PAYMENT_FAILED"]
    assert (event.source, event.target, event.target_type) == ("Jane Smith", "payment_failed", "Event")
    assert event.fact == "Jane Smith: payment_failed (amount: 49.0, currency: USD, plan: Pro)"
    assert event.valid_at == datetime(2024, 11, 14, 9, 30, tzinfo=timezone.utc)
    (plan,) = facts["HAS_PLAN"]
    assert (plan.source, plan.target, plan.fact) == ("Jane Smith", "Pro", "Jane Smith is on the Pro plan.")
    assert plan.valid_at == event.valid_at
    # amount/currency describe the event, not the user: no "Jane Smith has amount 49.0" facts.
    assert set(facts) == {"PAYMENT_FAILED", "HAS_PLAN"}
    expected = {("Jane Smith", "Person"), ("payment_failed", "Event"), ("Pro", "Plan")}
    assert {(e.name, e.type) for e in x.entities} >= expected


def test_nested_event_names_another_subject_and_flattens() -> None:
    x = run({
        "type": "order.created",
        "customer": {"name": "Bob Lee", "email": "bob@example.com", "city": "Denver"},
        "order": {"id": "o-1", "total": 59.5, "items": [{"sku": "a"}, {"sku": "b"}],
                  "tags": ["gift", "rush"]},
        "occurred_at": "2024-03-01T09:00:00+01:00",
    })
    facts = by_relation(x)
    (event,) = facts["ORDER_CREATED"]
    assert event.source == "Bob Lee"
    assert "order.total: 59.5" in event.fact and "order.items: 2 items" in event.fact
    assert "order.tags: gift, rush" in event.fact and "o-1" not in event.fact
    assert event.valid_at == datetime(2024, 3, 1, 8, 0, tzinfo=timezone.utc)
    assert [(f.source, f.target) for f in facts["HAS_EMAIL"]] == [("Bob Lee", "bob@example.com")]
    assert [(f.target, f.target_type) for f in facts["LIVES_IN"]] == [("Denver", "Place")]


def test_state_payload_without_event_type() -> None:
    x = run({"plan": "Business", "status": "suspended", "company": "Acme",
             "favorite_color": "green", "preferences": {"contact": "email"}})
    got = {(f.relation, f.target) for f in x.facts}
    assert got == {("HAS_PLAN", "Business"), ("ACCOUNT_STATUS", "suspended"), ("WORKS_AT", "Acme"),
                   ("HAS_FAVORITE_COLOR", "green"), ("HAS_PREFERENCES_CONTACT", "email")}
    status = next(f for f in x.facts if f.relation == "ACCOUNT_STATUS")
    assert status.fact == "Jane Smith's account status is suspended." and status.valid_at is None


def test_the_users_own_alias_is_the_user() -> None:
    x = run({"event": "login", "name": "Jane"})
    assert [f.source for f in x.facts] == ["Jane Smith"]


def test_generic_facts_are_capped() -> None:
    data = {f"field_{i}": i for i in range(30)}
    assert len(run(data).facts) == 12
    assert len(run(data, JsonExtractor(max_generic_facts=3)).facts) == 3


def test_timestamps_in_other_forms() -> None:
    day = run({"event": "signup", "date": "2024-03-01"}).facts[0].valid_at
    assert day == datetime(2024, 3, 1, tzinfo=timezone.utc)
    epoch = run({"event": "signup", "ts": 1709283600}).facts[0].valid_at
    assert epoch == datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)
    assert run({"event": "signup", "time": "not a time"}).facts[0].valid_at is None


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '"just a string"', ""])
def test_content_that_is_not_a_json_object_is_refused(content: str) -> None:
    ep = Episode(user_id="jane", source=EpisodeSource.json, content=content or " ", reference_time=REF)
    with pytest.raises(InvalidJSONError) as err:
        JsonExtractor().extract([ep], CTX)
    assert isinstance(err.value, InvalidInputError) and err.value.episode_uuid == ep.uuid


def test_deterministic_and_an_extractor() -> None:
    data = {"event_type": "plan_changed", "plan": {"name": "Team"}, "seats": 5,
            "created_at": "2024-01-02T03:04:05Z"}
    first, second = run(data), run(data)
    assert first.model_dump(exclude={"episode_uuid"}) == second.model_dump(exclude={"episode_uuid"})
    assert ("HAS_PLAN", "Team") in {(f.relation, f.target) for f in first.facts}
    ex = JsonExtractor()
    assert isinstance(ex, Extractor) and ex.name == "json"
