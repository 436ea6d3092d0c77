"""Entities, mentions, facts with provenance and observations in PostgreSQL.

A write that creates a searchable record, or changes the text it is embedded from, queues its
vector task in the same statement (a data-modifying CTE reads the row as it was before).
Upserts never cross users: an id that belongs to another user is left untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ...models import Entity, Fact, Observation, stored
from ...text import normalize_name
from ..base import MentionStat
from ..fact_filters import fact_filters
from .connection import PgConnection, jsonb
from .records import utc

__all__ = ["GraphMixin"]


def _entity(r: Sequence[Any]) -> Entity:
    """An entity as stored (``models.stored``: validated when written, not again), from a row of ``_ENTITY_COLS``."""
    uuid, user_id, name, type_, aliases, summary, attributes, created_at, updated_at = r
    return stored(Entity, {
        "uuid": uuid, "user_id": user_id, "name": name, "type": type_, "aliases": aliases, "summary": summary,
        "attributes": attributes, "created_at": utc(created_at), "updated_at": utc(updated_at)})


def _observation(r: Sequence[Any]) -> Observation:
    """An observation as stored, from a row of ``_OBS_COLS``."""
    uuid, user_id, key, text, evidence, first_seen, last_seen, count, sessions = r
    return stored(Observation, {
        "uuid": uuid, "user_id": user_id, "key": key, "text": text, "evidence": evidence,
        "first_seen": utc(first_seen), "last_seen": utc(last_seen), "count": count, "sessions": sessions})


def _opt(t: datetime | None) -> datetime | None:
    return None if t is None else utc(t)


_ENTITY_COLS = "uuid, user_id, name, type, aliases, summary, attributes, created_at, updated_at"
_FACT_SELECT = (
    "SELECT f.uuid, f.user_id, f.source_uuid, f.target_uuid, f.relation, f.fact, f.valid_at, f.invalid_at,"
    " f.created_at, f.expired_at, f.invalidated_by, f.attributes,"
    " (SELECT s.name FROM entities s WHERE s.uuid = f.source_uuid AND s.user_id = f.user_id) AS source_name,"
    " (SELECT t.name FROM entities t WHERE t.uuid = f.target_uuid AND t.user_id = f.user_id) AS target_name,"
    " ARRAY(SELECT fe.episode_uuid FROM fact_episodes fe LEFT JOIN episodes e ON e.uuid = fe.episode_uuid"
    "   AND e.user_id = fe.user_id WHERE fe.fact_uuid = f.uuid AND fe.user_id = f.user_id"
    "   ORDER BY e.reference_time NULLS LAST, e.seq, fe.episode_uuid) AS episodes"
    " FROM facts f")  # names and provenance by index lookups per fact: a join would scan every entity
_OBS_COLS = "uuid, user_id, key, text, evidence, first_seen, last_seen, count, sessions"


class GraphMixin(PgConnection):
    """The temporal graph of each user."""

    # -- entities -------------------------------------------------------------------------------
    def save_entity(self, entity: Entity) -> None:
        """Insert or update by uuid, with its name index; a new vector is owed when new or its
        embedded text (name, type, summary) changed. One statement, one round trip."""
        norms = sorted({normalize_name(n) for n in (entity.name, *entity.aliases)} - {""})
        self._x(
            "WITH prev AS (SELECT name, type, summary FROM entities WHERE uuid=%(uuid)s),"
            " up AS (INSERT INTO entities (uuid, user_id, name, type, aliases, alias_text, summary, attributes,"
            "   created_at, updated_at) VALUES (%(uuid)s, %(user_id)s, %(name)s, %(type)s, %(aliases)s,"
            "   %(alias_text)s, %(summary)s, %(attributes)s, %(created_at)s, %(updated_at)s)"
            "   ON CONFLICT (uuid) DO UPDATE SET name=excluded.name, type=excluded.type, aliases=excluded.aliases,"
            "   alias_text=excluded.alias_text, summary=excluded.summary, attributes=excluded.attributes,"
            "   updated_at=excluded.updated_at WHERE entities.user_id=excluded.user_id RETURNING uuid),"
            " names AS (INSERT INTO entity_names (user_id, norm, entity_uuid)"
            "   SELECT %(user_id)s, n, up.uuid FROM up, unnest(%(norms)b::text[]) n ON CONFLICT DO NOTHING)"
            " INSERT INTO vector_tasks (user_id, kind, uuid) SELECT %(user_id)s, 'entity', uuid FROM up"
            " WHERE NOT EXISTS (SELECT 1 FROM prev WHERE prev.name=%(name)s AND prev.type=%(type)s"
            "   AND prev.summary IS NOT DISTINCT FROM %(summary)s)"
            " ON CONFLICT (kind, uuid) DO UPDATE SET id = DEFAULT",  # queued again: a newer seq
            {"uuid": entity.uuid, "user_id": entity.user_id, "name": entity.name, "type": entity.type,
             "aliases": jsonb(entity.aliases), "alias_text": " ".join(entity.aliases), "summary": entity.summary,
             "attributes": jsonb(entity.attributes), "created_at": entity.created_at,
             "updated_at": entity.updated_at, "norms": norms})

    def get_entities(self, user_id: str, uuids: Sequence[str]) -> list[Entity]:
        if not uuids:
            return []
        rows = {r[0]: r for r in self._tuples(
            f"SELECT {_ENTITY_COLS} FROM entities WHERE user_id=%s AND uuid = ANY(%b)", (user_id, list(uuids)))}
        return [_entity(rows[u]) for u in uuids if u in rows]

    def entities_by_names(self, user_id: str, names: Sequence[str]) -> dict[str, list[Entity]]:
        norms = sorted({normalize_name(n) for n in names} - {""})
        if not norms:
            return {}
        rows = self._tuples(
            "SELECT n.norm, e.uuid, e.user_id, e.name, e.type, e.aliases, e.summary, e.attributes, e.created_at,"
            " e.updated_at FROM entity_names n JOIN entities e ON e.uuid = n.entity_uuid"
            " WHERE n.user_id=%s AND e.user_id=%s AND n.norm = ANY(%b) ORDER BY e.created_at, e.uuid",
            (user_id, user_id, norms))
        found: dict[str, list[Entity]] = {}
        for row in rows:
            found.setdefault(row[0], []).append(_entity(row[1:]))
        return found

    def list_entities(self, user_id: str, *, type: str | None = None, limit: int = 100,
                      offset: int = 0) -> list[Entity]:
        if type is None:
            rows = self._tuples(f"SELECT {_ENTITY_COLS} FROM entities WHERE user_id=%s ORDER BY created_at, uuid"
                                " LIMIT %s OFFSET %s", (user_id, limit, offset))
        else:
            rows = self._tuples(f"SELECT {_ENTITY_COLS} FROM entities WHERE user_id=%s AND type=%s"
                                " ORDER BY created_at, uuid LIMIT %s OFFSET %s", (user_id, type, limit, offset))
        return [_entity(r) for r in rows]

    def add_mentions(self, user_id: str, pairs: Sequence[tuple[str, str]]) -> None:
        """Record (entity_uuid, episode_uuid) mentions of this user's records; repeats are ignored."""
        if not pairs:
            return
        self._x("INSERT INTO mentions (entity_uuid, episode_uuid, user_id)"
                " SELECT p.entity_uuid, p.episode_uuid, %s FROM unnest(%b::text[], %b::text[]) AS p(entity_uuid,"
                " episode_uuid) ON CONFLICT DO NOTHING",
                (user_id, [p[0] for p in pairs], [p[1] for p in pairs]))

    def mentions_of_types(self, user_id: str, types: Sequence[str]) -> list[tuple[str, str]]:
        """(entity_uuid, episode_uuid) of every mention of the user's entities of these types."""
        if not types:
            return []
        return [(r[0], r[1]) for r in self._tuples(
            "SELECT m.entity_uuid, m.episode_uuid FROM entities e JOIN mentions m"
            " ON m.entity_uuid = e.uuid AND m.user_id = e.user_id"
            " WHERE e.user_id=%s AND e.type = ANY(%s)", (user_id, list(types)))]

    def mention_stats(self, user_id: str, min_threads: int = 2, limit: int = 50,
                      entity_uuids: Sequence[str] | None = None) -> list[MentionStat]:
        if entity_uuids is not None and not entity_uuids:
            return []
        only = "" if entity_uuids is None else " AND m.entity_uuid = ANY(%s)"
        rows = self._all(
            "SELECT m.entity_uuid, COUNT(*) AS n, COUNT(DISTINCT e.thread_id) AS threads,"
            " MIN(e.reference_time) AS first_seen, MAX(e.reference_time) AS last_seen,"
            " array_agg(DISTINCT e.thread_id) FILTER (WHERE e.thread_id IS NOT NULL) AS sessions"
            " FROM mentions m JOIN episodes e ON e.uuid = m.episode_uuid AND e.user_id = m.user_id"
            f" WHERE m.user_id=%s{only} GROUP BY m.entity_uuid HAVING COUNT(DISTINCT e.thread_id) >= %s"
            " ORDER BY n DESC, m.entity_uuid LIMIT %s",
            (user_id, *([] if entity_uuids is None else [list(entity_uuids)]), min_threads, limit))
        return [MentionStat(entity_uuid=r["entity_uuid"], mentions=int(r["n"]), threads=int(r["threads"]),
                            first_seen=r["first_seen"], last_seen=r["last_seen"], sessions=list(r["sessions"] or []))
                for r in rows]

    # -- facts ----------------------------------------------------------------------------------
    def _facts(self, where: str, params: Sequence[object], tail: str = "") -> list[Fact]:
        """Facts matching ``where`` (over ``facts f``), with their endpoint names and provenance
        (episodes in reference-time order), in one statement."""
        rows = self._tuples(f"{_FACT_SELECT} WHERE {where}{tail}", params)
        return [
            stored(Fact, {
                "uuid": uuid, "user_id": user, "source_uuid": source, "target_uuid": target, "source_name": sname,
                "target_name": tname, "relation": relation, "fact": fact, "valid_at": _opt(valid_at),
                "invalid_at": _opt(invalid_at), "created_at": utc(created_at), "expired_at": _opt(expired_at),
                "invalidated_by": invalidated_by, "episodes": episodes, "attributes": attributes})
            for (uuid, user, source, target, relation, fact, valid_at, invalid_at, created_at, expired_at,
                 invalidated_by, attributes, sname, tname, episodes) in rows
        ]

    def save_fact(self, fact: Fact) -> None:
        """Insert or update by uuid (text, validity, provenance); a vector is owed when new or its text
        changed. One statement, one round trip."""
        self._x(
            "WITH prev AS (SELECT fact FROM facts WHERE uuid=%(uuid)s),"
            " up AS (INSERT INTO facts VALUES (%(uuid)s, %(user_id)s, %(source)s, %(target)s, %(relation)s,"
            "   %(fact)s, %(valid_at)s, %(invalid_at)s, %(created_at)s, %(expired_at)s, %(invalidated_by)s,"
            "   %(attributes)s)"
            "   ON CONFLICT (uuid) DO UPDATE SET fact=excluded.fact, valid_at=excluded.valid_at,"
            "   invalid_at=excluded.invalid_at, expired_at=excluded.expired_at,"
            "   invalidated_by=excluded.invalidated_by, attributes=excluded.attributes"
            "   WHERE facts.user_id=excluded.user_id RETURNING uuid),"
            " prov AS (INSERT INTO fact_episodes (fact_uuid, episode_uuid, user_id)"
            "   SELECT up.uuid, ep, %(user_id)s FROM up, unnest(%(episodes)b::text[]) ep ON CONFLICT DO NOTHING)"
            " INSERT INTO vector_tasks (user_id, kind, uuid) SELECT %(user_id)s, 'fact', uuid FROM up"
            " WHERE NOT EXISTS (SELECT 1 FROM prev WHERE prev.fact=%(fact)s)"
            " ON CONFLICT (kind, uuid) DO UPDATE SET id = DEFAULT",
            {"uuid": fact.uuid, "user_id": fact.user_id, "source": fact.source_uuid, "target": fact.target_uuid,
             "relation": fact.relation, "fact": fact.fact, "valid_at": fact.valid_at,
             "invalid_at": fact.invalid_at, "created_at": fact.created_at, "expired_at": fact.expired_at,
             "invalidated_by": fact.invalidated_by, "attributes": jsonb(fact.attributes),
             "episodes": list(dict.fromkeys(fact.episodes))})

    def get_facts(self, user_id: str, uuids: Sequence[str]) -> list[Fact]:
        if not uuids:
            return []
        by_id = {f.uuid: f for f in self._facts("f.user_id=%s AND f.uuid = ANY(%b)", (user_id, list(uuids)))}
        return [by_id[u] for u in uuids if u in by_id]

    def facts_from(self, user_id: str, source_uuid: str, relation: str, *,
                   current_only: bool = True) -> list[Fact]:
        where = "f.user_id=%s AND f.source_uuid=%s AND f.relation=%s"
        if current_only:
            where += " AND f.invalid_at IS NULL AND f.expired_at IS NULL"
        return self._facts(where, (user_id, source_uuid, relation),
                           " ORDER BY f.valid_at NULLS FIRST, f.created_at, f.uuid")

    def facts_touching(self, user_id: str, entity_uuids: Sequence[str], limit: int = 200) -> list[Fact]:
        if not entity_uuids:
            return []
        ids = list(entity_uuids)
        return self._facts("f.user_id=%s AND (f.source_uuid = ANY(%b) OR f.target_uuid = ANY(%b))",
                           (user_id, ids, ids, limit),
                           " ORDER BY (f.invalid_at IS NULL) DESC, f.valid_at DESC NULLS LAST, f.uuid LIMIT %s")

    def list_facts(
        self, user_id: str, *, thread_id: str | None = None, relation: str | None = None,
        current_only: bool = False, as_of: datetime | None = None, since: datetime | None = None,
        until: datetime | None = None, limit: int = 100, offset: int = 0,
    ) -> list[Fact]:
        where, params = fact_filters(user_id, mark="%s", thread_id=thread_id, relation=relation,
                                     current_only=current_only, as_of=as_of, since=since, until=until)
        return self._facts(where, (*params, limit, offset),
                           " ORDER BY f.valid_at NULLS FIRST, f.created_at, f.uuid LIMIT %s OFFSET %s")

    def facts_of_episodes(self, user_id: str, episode_uuids: Sequence[str]) -> dict[str, list[str]]:
        if not episode_uuids:
            return {}
        out: dict[str, list[str]] = {}
        for ep, fact in self._tuples("SELECT episode_uuid, fact_uuid FROM fact_episodes WHERE user_id=%s"
                                     " AND episode_uuid = ANY(%b) ORDER BY fact_uuid", (user_id, list(episode_uuids))):
            out.setdefault(ep, []).append(fact)
        return out

    def count_facts(self, user_id: str) -> int:
        return int(self._scalar("SELECT count(*) FROM facts WHERE user_id=%s", (user_id,)))

    # -- observations -----------------------------------------------------------------------------
    def save_observation(self, obs: Observation) -> Observation:
        """Insert or update by (user, key); returns it with its stored uuid. A vector is owed when its text changes."""
        row = self._one(
            "WITH prev AS (SELECT uuid, text FROM observations WHERE user_id=%(user_id)s AND key=%(key)s),"
            " up AS (INSERT INTO observations (uuid, user_id, key, text, evidence, first_seen, last_seen, count,"
            "   sessions) VALUES (%(uuid)s, %(user_id)s, %(key)s, %(text)s, %(evidence)s, %(first_seen)s,"
            "   %(last_seen)s, %(count)s, %(sessions)s)"
            "   ON CONFLICT (user_id, key) DO UPDATE SET text=excluded.text, evidence=excluded.evidence,"
            "   first_seen=excluded.first_seen, last_seen=excluded.last_seen, count=excluded.count,"
            "   sessions=excluded.sessions RETURNING uuid),"
            " task AS (INSERT INTO vector_tasks (user_id, kind, uuid) SELECT %(user_id)s, 'observation', uuid"
            "   FROM up WHERE NOT EXISTS (SELECT 1 FROM prev WHERE prev.text=%(text)s)"
            "   ON CONFLICT (kind, uuid) DO UPDATE SET id = DEFAULT)"
            " SELECT uuid FROM up",
            {"uuid": obs.uuid, "user_id": obs.user_id, "key": obs.key, "text": obs.text,
             "evidence": jsonb(obs.evidence), "first_seen": obs.first_seen, "last_seen": obs.last_seen,
             "count": obs.count, "sessions": jsonb(obs.sessions)})
        assert row is not None
        return obs.model_copy(update={"uuid": row["uuid"]})

    def delete_observation(self, user_id: str, key: str) -> None:
        with self._group():
            self._x("DELETE FROM vector_tasks WHERE kind='observation' AND uuid IN"
                    " (SELECT uuid FROM observations WHERE user_id=%s AND key=%s)", (user_id, key))
            self._x("DELETE FROM observations WHERE user_id=%s AND key=%s", (user_id, key))

    def list_observations(self, user_id: str, limit: int = 100) -> list[Observation]:
        rows = self._tuples(f"SELECT {_OBS_COLS} FROM observations WHERE user_id=%s"
                            " ORDER BY count DESC, last_seen DESC, key LIMIT %s", (user_id, limit))
        return [_observation(r) for r in rows]

    def get_observations(self, user_id: str, uuids: Sequence[str]) -> list[Observation]:
        if not uuids:
            return []
        rows = {r[0]: r for r in self._tuples(
            f"SELECT {_OBS_COLS} FROM observations WHERE user_id=%s AND uuid = ANY(%b)", (user_id, list(uuids)))}
        return [_observation(rows[u]) for u in uuids if u in rows]
