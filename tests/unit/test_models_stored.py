"""Records read back from a store (``models.stored``) behave exactly like the records written."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from agent_memory.models import Entity, Episode, EpisodeSource, Fact, Observation, Role, stored

T = datetime(2024, 3, 2, 10, 0, tzinfo=timezone.utc)
RECORDS = [
    Episode(uuid="e1", user_id="jane", thread_id="t1", source=EpisodeSource.message, role=Role.user, name="Jane",
            content="I moved to Denver", reference_time=T, metadata={"k": [1, 2]}),
    Entity(uuid="n1", user_id="jane", name="Denver", type="Place", aliases=["Mile High City"],
           attributes={"state": "CO"}),
    Fact(uuid="f1", user_id="jane", source_uuid="n0", target_uuid="n1", relation="LIVES_IN",
         fact="Jane lives in Denver", valid_at=T, episodes=["e1"]),
    Observation(uuid="o1", user_id="jane", key="entity:n1", text="Denver", first_seen=T, last_seen=T, count=2,
                sessions=["t1"]),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_a_stored_record_equals_the_record_written(record: Episode | Entity | Fact | Observation) -> None:
    back = stored(type(record), dict(record.__dict__))
    assert back == record and repr(back) == repr(record) and back.model_dump() == record.model_dump()
    assert back.model_fields_set == set(type(record).model_fields)
    assert back.model_dump_json() == record.model_dump_json()
    copy = back.model_copy(update={"user_id": "bob"})
    assert copy.user_id == "bob" and back.user_id == "jane"  # a copy is its own record
    assert type(record).model_validate(back.model_dump()) == record
