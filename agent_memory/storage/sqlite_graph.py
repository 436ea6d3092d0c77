"""SQLite tables of the temporal graph: entities, mentions, facts, observations, and their full text.

Every read takes the owning ``user_id``. A write that creates a searchable record, or changes the
text it is embedded from, queues a vector task in the same transaction (the outbox).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .._time import format_ts, parse_ts, stored_ts
from ..models import Entity, Fact, Observation, stored
from ..text import content_words, normalize_name
from .base import Kind, MentionStat
from .fact_filters import fact_filters
from .sqlite_base import SQLiteBase, dumps, loads, ukey

__all__ = ["GraphTables", "fts_query"]

_FACT = ("uuid, user_id, source_uuid, target_uuid, relation, fact, valid_at, invalid_at, created_at, expired_at,"
         " invalidated_by, attributes")  # the order of the table's columns


def fts_query(text: str, max_terms: int = 32) -> str | None:
    """An FTS5 OR-query of the distinct content words of ``text``; None when none are left."""
    words = content_words(text, max_terms)
    return " OR ".join(f'"{w}"' for w in words) if words else None


def _opt_ts(value: str | None) -> datetime | None:
    return None if value is None else stored_ts(value)


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


class GraphTables(SQLiteBase):
    """Entities, mentions, facts and observations of every user, scoped by user on every read."""

    # -- entities -----------------------------------------------------------------------------
    @staticmethod
    def _entity(row: sqlite3.Row) -> Entity:
        return stored(Entity, {
            "uuid": row["uuid"], "user_id": row["user_id"], "name": row["name"], "type": row["type"],
            "aliases": loads(row["aliases"]), "summary": row["summary"],
            "attributes": loads(row["attributes"]), "created_at": stored_ts(row["created_at"]),
            "updated_at": stored_ts(row["updated_at"]),
        })

    def save_entity(self, entity: Entity) -> None:
        """Insert or update an entity, its name index and full text; owes a vector when its text changed."""
        with self.atomic():
            old = self._one("SELECT name, type, summary FROM entities WHERE uuid=? AND user_id=?",
                            (entity.uuid, entity.user_id))
            self._w(
                "INSERT INTO entities VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(uuid) DO UPDATE SET"
                " name=excluded.name, type=excluded.type, aliases=excluded.aliases, summary=excluded.summary,"
                " attributes=excluded.attributes, updated_at=excluded.updated_at WHERE user_id=excluded.user_id",
                (entity.uuid, entity.user_id, entity.name, entity.type, dumps(entity.aliases),
                 entity.summary, dumps(entity.attributes), format_ts(entity.created_at),
                 format_ts(entity.updated_at)),
            )
            for name in {normalize_name(n) for n in (entity.name, *entity.aliases)} - {""}:
                self._w("INSERT OR IGNORE INTO entity_names VALUES (?,?,?)", (entity.user_id, name, entity.uuid))
            rowid = self._count("SELECT rowid FROM entities WHERE uuid=?", (entity.uuid,))
            body = " ".join([entity.name, *entity.aliases, entity.type, entity.summary or ""])
            self._w("DELETE FROM fts_entity WHERE rowid=?", (rowid,))
            self._w("INSERT INTO fts_entity(rowid, body, ukey) VALUES (?,?,?)", (rowid, body, ukey(entity.user_id)))
            if old is None or (old["name"], old["type"], old["summary"]) != (entity.name, entity.type, entity.summary):
                self._queue(entity.user_id, "entity", entity.uuid)

    def get_entities(self, user_id: str, uuids: Sequence[str]) -> list[Entity]:
        if not uuids:
            return []
        # "+user_id" (here and in every read by ids): look up each id in the unique index instead of
        # scanning all the user's rows, which SQLite's planner picks without statistics (30x slower at 10k)
        rows = {r["uuid"]: r for r in self._all(
            f"SELECT * FROM entities WHERE +user_id=? AND uuid IN ({_marks(uuids)})", (user_id, *uuids))}
        return [self._entity(rows[u]) for u in uuids if u in rows]

    def entities_by_names(self, user_id: str, names: Sequence[str]) -> dict[str, list[Entity]]:
        """Entities whose name or alias normalises to each of ``names`` (keyed by normalised name)."""
        norms = sorted({normalize_name(n) for n in names} - {""})
        if not norms:
            return {}
        rows = self._all(
            f"SELECT n.norm, e.* FROM entity_names n JOIN entities e ON e.uuid = n.entity_uuid"
            f" WHERE n.user_id=? AND n.norm IN ({_marks(norms)})", (user_id, *norms))
        found: dict[str, list[Entity]] = {}
        for row in rows:
            found.setdefault(row["norm"], []).append(self._entity(row))
        return found

    def list_entities(self, user_id: str, *, type: str | None = None, limit: int = 100,
                      offset: int = 0) -> list[Entity]:
        if type is None:
            rows = self._all("SELECT * FROM entities WHERE user_id=? ORDER BY created_at LIMIT ? OFFSET ?",
                             (user_id, limit, offset))
        else:
            rows = self._all(
                "SELECT * FROM entities WHERE user_id=? AND type=? ORDER BY created_at LIMIT ? OFFSET ?",
                (user_id, type, limit, offset))
        return [self._entity(r) for r in rows]

    def add_mentions(self, user_id: str, pairs: Sequence[tuple[str, str]]) -> None:
        """Record that entity (first) is mentioned in episode (second)."""
        with self.atomic():
            for entity_uuid, episode_uuid in pairs:
                self._w("INSERT OR IGNORE INTO mentions VALUES (?,?,?)", (entity_uuid, episode_uuid, user_id))

    def mentions_of_types(self, user_id: str, types: Sequence[str]) -> list[tuple[str, str]]:
        """(entity_uuid, episode_uuid) of every mention of the user's entities of these types."""
        if not types:
            return []
        return [(r[0], r[1]) for r in self._packed(
            "m.entity_uuid, m.episode_uuid", "FROM entities e JOIN mentions m ON m.entity_uuid = e.uuid"
            f" WHERE e.user_id=? AND e.type IN ({_marks(types)}) AND +m.user_id=?", (user_id, *types, user_id))]

    def mention_stats(self, user_id: str, min_threads: int = 2, limit: int = 50,
                      entity_uuids: Sequence[str] | None = None) -> list[MentionStat]:
        """Per entity (of ``entity_uuids`` only, if given): episodes and distinct threads mentioning
        it, first and last time seen; the most mentioned first."""
        if entity_uuids is None:
            where, params = "m.user_id=? AND e.user_id=?", [user_id, user_id]
        elif not entity_uuids:
            return []
        else:  # by the mentions' primary key, not every mention of the user
            where, params = (f"m.entity_uuid IN ({_marks(entity_uuids)}) AND +m.user_id=? AND +e.user_id=?",
                             [*entity_uuids, user_id, user_id])
        rows = self._all(
            "SELECT m.entity_uuid AS entity_uuid, COUNT(*) AS n, COUNT(DISTINCT e.thread_id) AS threads,"
            " MIN(e.reference_time) AS first_seen, MAX(e.reference_time) AS last_seen,"
            " json_group_array(DISTINCT e.thread_id) AS sessions"
            f" FROM mentions m JOIN episodes e ON e.uuid = m.episode_uuid WHERE {where}"
            " GROUP BY m.entity_uuid HAVING COUNT(DISTINCT e.thread_id) >= ? ORDER BY n DESC, m.entity_uuid LIMIT ?",
            (*params, min_threads, limit),
        )
        return [MentionStat(entity_uuid=r["entity_uuid"], mentions=int(r["n"]), threads=int(r["threads"]),
                            first_seen=parse_ts(r["first_seen"]), last_seen=parse_ts(r["last_seen"]),
                            sessions=[s for s in json.loads(r["sessions"]) if s]) for r in rows]

    # -- facts --------------------------------------------------------------------------------
    def _facts(self, user_id: str, rows: Sequence[Sequence[Any]]) -> list[Fact]:
        """Facts from rows of ``_FACT`` columns (by position), with their provenance and endpoint names."""
        if not rows:
            return []
        uuids = [r[0] for r in rows]
        prov: dict[str, list[str]] = {}
        for fact_uuid, episode_uuid, _, _ in sorted(self._packed(
                "fe.fact_uuid, fe.episode_uuid, e.reference_time, e.seq", "FROM fact_episodes fe JOIN episodes e"
                f" ON e.uuid = fe.episode_uuid WHERE fe.fact_uuid IN ({_marks(uuids)})", uuids),
                key=lambda r: (r[2], r[3])):
            prov.setdefault(fact_uuid, []).append(episode_uuid)
        ent_ids = list({r[2] for r in rows} | {r[3] for r in rows})
        names = {r[0]: r[1] for r in self._packed(  # the names alone: no entity decoded for a label
            "uuid, name", f"FROM entities WHERE +user_id=? AND uuid IN ({_marks(ent_ids)})", (user_id, *ent_ids))}
        return [
            stored(Fact, {
                "uuid": r[0], "user_id": r[1], "source_uuid": r[2], "target_uuid": r[3],
                "source_name": names.get(r[2]), "target_name": names.get(r[3]), "relation": r[4], "fact": r[5],
                "valid_at": _opt_ts(r[6]), "invalid_at": _opt_ts(r[7]), "created_at": stored_ts(r[8]),
                "expired_at": _opt_ts(r[9]), "invalidated_by": r[10], "episodes": prov.get(r[0], []),
                "attributes": loads(r[11])})
            for r in rows
        ]

    def save_fact(self, fact: Fact) -> None:
        """Insert or update a fact (its text, validity and provenance); owes a vector when its text changed."""
        with self.atomic():
            old = self._one("SELECT fact FROM facts WHERE uuid=? AND user_id=?", (fact.uuid, fact.user_id))
            self._w(
                "INSERT INTO facts VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(uuid) DO UPDATE SET"
                " fact=excluded.fact, valid_at=excluded.valid_at, invalid_at=excluded.invalid_at,"
                " expired_at=excluded.expired_at, invalidated_by=excluded.invalidated_by,"
                " attributes=excluded.attributes WHERE user_id=excluded.user_id",
                (fact.uuid, fact.user_id, fact.source_uuid, fact.target_uuid, fact.relation, fact.fact,
                 format_ts(fact.valid_at), format_ts(fact.invalid_at), format_ts(fact.created_at),
                 format_ts(fact.expired_at), fact.invalidated_by, dumps(fact.attributes)),
            )
            for ep in fact.episodes:
                self._w("INSERT OR IGNORE INTO fact_episodes VALUES (?,?)", (fact.uuid, ep))
            rowid = self._count("SELECT rowid FROM facts WHERE uuid=?", (fact.uuid,))
            self._w("DELETE FROM fts_fact WHERE rowid=?", (rowid,))
            self._w("INSERT INTO fts_fact(rowid, body, ukey) VALUES (?,?,?)",
                    (rowid, f"{fact.fact} {fact.relation.replace('_', ' ').lower()}", ukey(fact.user_id)))
            if old is None or old["fact"] != fact.fact:
                self._queue(fact.user_id, "fact", fact.uuid)

    def get_facts(self, user_id: str, uuids: Sequence[str]) -> list[Fact]:
        if not uuids:
            return []
        rows = self._packed(_FACT, f"FROM facts WHERE +user_id=? AND uuid IN ({_marks(uuids)})", (user_id, *uuids))
        by_id = {f.uuid: f for f in self._facts(user_id, rows)}
        return [by_id[u] for u in uuids if u in by_id]

    def facts_from(self, user_id: str, source_uuid: str, relation: str, *, current_only: bool = True) -> list[Fact]:
        """Facts with this subject and relation (the candidates for duplicates and contradictions)."""
        sql = "SELECT * FROM facts WHERE user_id=? AND source_uuid=? AND relation=?"
        if current_only:
            sql += " AND invalid_at IS NULL AND expired_at IS NULL"
        return self._facts(user_id, self._all(sql + " ORDER BY valid_at", (user_id, source_uuid, relation)))

    def facts_touching(self, user_id: str, entity_uuids: Sequence[str], limit: int = 200) -> list[Fact]:
        """Facts with any of these entities as an endpoint, newest first (one BFS hop)."""
        if not entity_uuids:
            return []
        marks = _marks(entity_uuids)
        rows = self._packed(
            f"{_FACT}, n", f"FROM (SELECT *, row_number() OVER (ORDER BY (invalid_at IS NULL) DESC, valid_at DESC) AS n"
            f" FROM facts WHERE user_id=? AND (source_uuid IN ({marks}) OR target_uuid IN ({marks}))"
            " ORDER BY n LIMIT ?)", (user_id, *entity_uuids, *entity_uuids, limit),
        )
        return self._facts(user_id, sorted(rows, key=lambda r: r[-1]))

    def list_facts(
        self, user_id: str, *, thread_id: str | None = None, relation: str | None = None,
        current_only: bool = False, as_of: datetime | None = None, since: datetime | None = None,
        until: datetime | None = None, limit: int = 100, offset: int = 0,
    ) -> list[Fact]:
        """Facts of a user. ``as_of`` keeps what was true at that moment (valid time)."""
        where, params = fact_filters(user_id, mark="?", ts=format_ts, thread_id=thread_id, relation=relation,
                                     current_only=current_only, as_of=as_of, since=since, until=until)
        rows = self._all(
            f"SELECT * FROM facts f WHERE {where} ORDER BY f.valid_at, f.created_at, f.uuid LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return self._facts(user_id, rows)

    def facts_of_episodes(self, user_id: str, episode_uuids: Sequence[str]) -> dict[str, list[str]]:
        """Fact ids that each of the user's episodes supports."""
        if not episode_uuids:
            return {}
        out: dict[str, list[str]] = {}
        for r in sorted(self._packed(
                "fe.episode_uuid, fe.fact_uuid", "FROM fact_episodes fe JOIN facts f ON f.uuid=fe.fact_uuid"
                f" WHERE +f.user_id=? AND fe.episode_uuid IN ({_marks(episode_uuids)})", (user_id, *episode_uuids))):
            out.setdefault(r[0], []).append(r[1])
        return out

    def count_facts(self, user_id: str) -> int:
        return self._count("SELECT COUNT(*) FROM facts WHERE user_id=?", (user_id,))

    # -- observations -------------------------------------------------------------------------
    @staticmethod
    def _observation(row: sqlite3.Row) -> Observation:
        return stored(Observation, {
            "uuid": row["uuid"], "user_id": row["user_id"], "key": row["key"], "text": row["text"],
            "evidence": loads(row["evidence"]), "first_seen": stored_ts(row["first_seen"]),
            "last_seen": stored_ts(row["last_seen"]), "count": int(row["count"]), "sessions": loads(row["sessions"]),
        })

    def save_observation(self, obs: Observation) -> Observation:
        """Insert or update the user's observation with this key; returns the stored record."""
        with self.atomic():
            row = self._one("SELECT uuid, text FROM observations WHERE user_id=? AND key=?", (obs.user_id, obs.key))
            uuid = row["uuid"] if row else obs.uuid
            self._w(
                "INSERT INTO observations VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(user_id, key) DO UPDATE SET"
                " text=excluded.text, evidence=excluded.evidence, first_seen=excluded.first_seen,"
                " last_seen=excluded.last_seen, count=excluded.count, sessions=excluded.sessions",
                (uuid, obs.user_id, obs.key, obs.text, dumps(obs.evidence), format_ts(obs.first_seen),
                 format_ts(obs.last_seen), obs.count, dumps(obs.sessions)),
            )
            rowid = self._count("SELECT rowid FROM observations WHERE uuid=?", (uuid,))
            self._w("DELETE FROM fts_observation WHERE rowid=?", (rowid,))
            self._w("INSERT INTO fts_observation(rowid, body, ukey) VALUES (?,?,?)",
                    (rowid, obs.text, ukey(obs.user_id)))
            if row is None or row["text"] != obs.text:
                self._queue(obs.user_id, "observation", uuid)
        return obs.model_copy(update={"uuid": uuid})

    def _delete_observation_row(self, user_id: str, key: str) -> str | None:
        """Remove the observation's row, full text and task; returns its uuid."""
        with self.atomic():
            row = self._one("SELECT rowid, uuid FROM observations WHERE user_id=? AND key=?", (user_id, key))
            if row is None:
                return None
            self._w("DELETE FROM fts_observation WHERE rowid=?", (row[0],))
            self._w("DELETE FROM observations WHERE rowid=?", (row[0],))
            self._unqueue("observation", [row[1]])
            return str(row[1])

    def list_observations(self, user_id: str, limit: int = 100) -> list[Observation]:
        rows = self._all("SELECT * FROM observations WHERE user_id=? ORDER BY count DESC, last_seen DESC LIMIT ?",
                         (user_id, limit))
        return [self._observation(r) for r in rows]

    def get_observations(self, user_id: str, uuids: Sequence[str]) -> list[Observation]:
        if not uuids:
            return []
        rows = {r["uuid"]: r for r in self._all(
            f"SELECT * FROM observations WHERE +user_id=? AND uuid IN ({_marks(uuids)})", (user_id, *uuids))}
        return [self._observation(rows[u]) for u in uuids if u in rows]

    # -- full text ----------------------------------------------------------------------------
    _FTS_SOURCE = {"episode": ("episodes", "seq"), "fact": ("facts", "rowid"),
                   "entity": ("entities", "rowid"), "observation": ("observations", "rowid")}

    def search_text(self, user_id: str, kind: Kind, query: str, limit: int = 20, *,
                    among: Sequence[str] = ()) -> list[tuple[str, float]]:
        """BM25 over one kind of record of one user: (uuid, score) best first, score > 0; ``among``: only
        records with one of these words (see ``GraphStore.search_episode_text``)."""
        match = fts_query(query)
        if match is None or limit <= 0:
            return []
        names = fts_query(" ".join(among)) if among else None
        if names is not None:
            match = f"({names}) AND ({match})"
        table, key = self._FTS_SOURCE[kind]
        # The user's token narrows the matches to their rows inside FTS5: worth it when they are a
        # small share of the table, twice the work when they hold most of it. Same rows and scores
        # either way (bm25 reads table-wide statistics; the token's column weighs 0).
        scoped = not self._holds_most(user_id, kind, table)
        scope = f'ukey:"{ukey(user_id)}" AND ' if scoped else ""
        # The best matches are ranked inside FTS5 first and only they are joined to their records: a
        # join per match cost a third of a broad query (~5,000 matches at 10k episodes). Unscoped, the
        # other users' rows among them are dropped; too many dropped means the full join decides.
        top = limit if scoped else 2 * limit
        score = "printf('%!.17g', f.score), f.r"
        rows = self._packed(
            f"t.uuid, {score}", f"FROM (SELECT rowid AS r, -bm25(fts_{kind}, 1.0, 0.0) AS score FROM fts_{kind}"
            f" WHERE fts_{kind} MATCH ? ORDER BY score DESC, rowid LIMIT ?) f"
            f" LEFT JOIN {table} t ON t.{key} = f.r AND t.user_id=?",
            (f"{scope}body:({match})", top, user_id),
        )
        if len(rows) == top and sum(r[0] is not None for r in rows) < limit:
            rows = self._packed(
                f"f.uuid, {score}", f"FROM (SELECT t.uuid, -bm25(fts_{kind}, 1.0, 0.0) AS score,"
                f" fts_{kind}.rowid AS r FROM fts_{kind} JOIN {table} t ON t.{key} = fts_{kind}.rowid"
                f" WHERE fts_{kind} MATCH ? AND t.user_id=? ORDER BY score DESC, r LIMIT ?) f",
                (f"{scope}body:({match})", user_id, limit),
            )
        hits = sorted(((float(s), -r, u) for u, s, r in rows if u is not None), reverse=True)[:limit]
        return [(u, s) for s, _, u in hits]

    def _holds_most(self, user_id: str, kind: str, table: str) -> bool:
        """Whether the user holds most rows of this kind, counted at most once a minute per user."""
        with self._fts_lock:
            most, total = self._fts_share.get((user_id, kind)), self._fts_total.get(kind)
        if most is not None:
            return most
        counted = total is None
        if total is None:
            total = self._count(f"SELECT COUNT(*) FROM {table}")
        most = 2 * self._count(f"SELECT COUNT(*) FROM {table} WHERE user_id=?", (user_id,)) > total
        with self._fts_lock:
            if counted:
                self._fts_total.put(kind, total)
            self._fts_share.put((user_id, kind), most)
        return most

    def record_ids(self, user_id: str, kind: Kind) -> list[str]:
        """Every id of one kind of the user's searchable records (for reconcile)."""
        table = self._FTS_SOURCE[kind][0]
        return [r[0] for r in self._all(f"SELECT uuid FROM {table} WHERE user_id=?", (user_id,))]
