"""SQLite record store: users, threads, episodes, the temporal graph, observations, templates, FTS5.

Plain, direct SQL in the manner of sqlite-utils: one connection (WAL, foreign keys, secure
delete), ``atomic()`` transactions that nest through savepoints, numbered migrations, an
optional ``tracer(sql, params)``. Full text uses FTS5 with the Porter stemmer; each FTS row
carries a per-user key token so one user's search never reads another's rows.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from .._time import format_ts
from ..errors import AlreadyExistsError, StorageError
from ..models import (
    ContextTemplate,
    Entity,
    Episode,
    EpisodeStatus,
    Fact,
    Observation,
    Thread,
    User,
)
from .migrations import migrate

__all__ = ["SQLiteStore", "fts_query", "normalize_name"]

Tracer = Callable[[str, Sequence[Any]], None]

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
_STOP = frozenset(
    "a an and are as at be but by did do does for from had has have he her him his how i if in into "
    "is it its me my no not of on or our she so than that the their them then there these they this "
    "to too was we were what when where which who whom why will with would you your yours about can "
    "could should just also any all been being am some such".split()
)


def normalize_name(name: str) -> str:
    """Key for entity-name lookup: case-folded words, no punctuation or leading article."""
    words = _WORD.findall(name.casefold())
    if len(words) > 1 and words[0] in ("the", "a", "an", "my"):
        words = words[1:]
    return " ".join(words)


def fts_query(text: str, max_terms: int = 32) -> str | None:
    """An FTS5 OR-query of the distinct content words of ``text``; None when none are left."""
    seen: list[str] = []
    for word in _WORD.findall(text.casefold()):
        word = word.replace("'", "")
        if len(word) > 1 and word not in _STOP and word not in seen:
            seen.append(word)
    if not seen:
        return None
    return " OR ".join(f'"{w}"' for w in seen[:max_terms])


def _ukey(user_id: str) -> str:
    return "u" + hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:20]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class SQLiteStore:
    """The default GraphStore: one SQLite file (or ``:memory:``) for every record and full text."""

    def __init__(self, path: str | Path = ":memory:", *, tracer: Tracer | None = None) -> None:
        self.path = str(path)
        self.tracer = tracer
        self._lock = threading.RLock()
        self._depth = 0
        try:
            self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            if self.path != ":memory:":
                self.conn.execute("PRAGMA journal_mode=WAL")
            for pragma in ("foreign_keys=ON", "synchronous=NORMAL", "secure_delete=ON", "busy_timeout=5000"):
                self.conn.execute(f"PRAGMA {pragma}")
            self.schema_version = migrate(self.conn)
        except sqlite3.Error as exc:  # read-only or full disk, a directory, a file that is not a database
            raise StorageError(f"cannot open the database at {self.path}: {exc}; check that the directory is "
                               "writable, the disk has free space and the file is an agent-memory database") from exc

    # -- plumbing ---------------------------------------------------------------------------
    def _x(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        if self.tracer:
            self.tracer(sql, params)
        try:
            return self.conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise AlreadyExistsError(f"record already exists: {exc}") from exc
        except sqlite3.Error as exc:
            raise StorageError(f"database error: {exc}") from exc

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._x(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._x(sql, params).fetchone()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """A write transaction; nested calls become savepoints. Rolls back on any exception."""
        with self._lock:
            outer = self._depth == 0
            name = f"sp{self._depth}"
            self._x("BEGIN IMMEDIATE" if outer else f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                self._x("ROLLBACK" if outer else f"ROLLBACK TO {name}")
                if not outer:
                    self._x(f"RELEASE {name}")
                raise
            self._depth -= 1
            self._x("COMMIT" if outer else f"RELEASE {name}")

    def close(self) -> None:
        """Checkpoint the WAL and close the connection."""
        with self._lock:
            try:
                if self.path != ":memory:":
                    self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:  # committed data is safe in the WAL; the checkpoint runs on next open
                raise StorageError(f"closing the database at {self.path} could not checkpoint its log: {exc}; "
                                   "free disk space (nothing committed is lost)") from exc
            finally:
                self.conn.close()

    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key=?", (key,))
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._x("INSERT INTO meta VALUES (?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))

    # -- users --------------------------------------------------------------------------------
    @staticmethod
    def _user(row: sqlite3.Row) -> User:
        return User(
            user_id=row["user_id"], email=row["email"], first_name=row["first_name"],
            last_name=row["last_name"], metadata=json.loads(row["metadata"]), summary=row["summary"],
            entity_uuid=row["entity_uuid"], created_at=row["created_at"], updated_at=row["updated_at"],
        )

    def add_user(self, user: User) -> None:
        self._x(
            "INSERT INTO users VALUES (?,?,?,?,?,?,?,?,?)",
            (user.user_id, user.email, user.first_name, user.last_name, _dumps(user.metadata),
             user.summary, user.entity_uuid, format_ts(user.created_at), format_ts(user.updated_at)),
        )

    def update_user(self, user: User) -> None:
        self._x(
            "UPDATE users SET email=?, first_name=?, last_name=?, metadata=?, summary=?, entity_uuid=?,"
            " updated_at=? WHERE user_id=?",
            (user.email, user.first_name, user.last_name, _dumps(user.metadata), user.summary,
             user.entity_uuid, format_ts(user.updated_at), user.user_id),
        )

    def get_user(self, user_id: str) -> User | None:
        row = self._one("SELECT * FROM users WHERE user_id=?", (user_id,))
        return self._user(row) if row else None

    def list_users(self, limit: int = 100, offset: int = 0) -> list[User]:
        rows = self._all("SELECT * FROM users ORDER BY created_at, user_id LIMIT ? OFFSET ?", (limit, offset))
        return [self._user(r) for r in rows]

    def count_users(self) -> int:
        return int(self._one("SELECT COUNT(*) FROM users")[0])  # type: ignore[index]

    def delete_user(self, user_id: str) -> None:
        """Remove every row of the user, then purge freed FTS and WAL pages so no text survives on disk."""
        ukey = _ukey(user_id)
        with self.atomic():
            for kind in ("episode", "fact", "entity", "observation"):
                self._x(f"DELETE FROM fts_{kind} WHERE ukey MATCH ?", (f'"{ukey}"',))
            self._x(
                "DELETE FROM fact_episodes WHERE fact_uuid IN (SELECT uuid FROM facts WHERE user_id=?)",
                (user_id,),
            )
            self._x("DELETE FROM llm_call_episodes WHERE call_id IN (SELECT id FROM llm_calls WHERE user_id=?)",
                    (user_id,))
            for table in ("mentions", "facts", "entity_names", "entities", "observations", "episodes", "llm_calls"):
                self._x(f"DELETE FROM {table} WHERE user_id=?", (user_id,))
            self._x("DELETE FROM threads WHERE user_id=?", (user_id,))
            self._x("DELETE FROM users WHERE user_id=?", (user_id,))
        self.purge()

    def purge(self) -> None:
        """Merge FTS segments (dropping deleted terms), vacuum and truncate the WAL."""
        with self._lock:
            for kind in ("episode", "fact", "entity", "observation"):
                self._x(f"INSERT INTO fts_{kind}(fts_{kind}) VALUES ('optimize')")
            self._x("VACUUM")
            if self.path != ":memory:":
                self._x("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- threads ------------------------------------------------------------------------------
    @staticmethod
    def _thread(row: sqlite3.Row) -> Thread:
        return Thread(thread_id=row["thread_id"], user_id=row["user_id"],
                      metadata=json.loads(row["metadata"]), created_at=row["created_at"])

    def add_thread(self, thread: Thread) -> None:
        self._x("INSERT INTO threads VALUES (?,?,?,?)",
                (thread.thread_id, thread.user_id, _dumps(thread.metadata), format_ts(thread.created_at)))

    def get_thread(self, thread_id: str) -> Thread | None:
        row = self._one("SELECT * FROM threads WHERE thread_id=?", (thread_id,))
        return self._thread(row) if row else None

    def list_threads(self, user_id: str, limit: int = 100, offset: int = 0) -> list[Thread]:
        rows = self._all(
            "SELECT * FROM threads WHERE user_id=? ORDER BY created_at, thread_id LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        return [self._thread(r) for r in rows]

    def delete_thread(self, thread_id: str) -> None:
        """Remove the thread and its messages; facts learned from them stay in the user's graph."""
        with self.atomic():
            rows = self._all("SELECT seq, uuid, user_id FROM episodes WHERE thread_id=?", (thread_id,))
            for row in rows:
                self._x("DELETE FROM fts_episode WHERE rowid=?", (row["seq"],))
                self._x("DELETE FROM fact_episodes WHERE episode_uuid=?", (row["uuid"],))
                self._x("DELETE FROM mentions WHERE episode_uuid=?", (row["uuid"],))
            self._x("DELETE FROM episodes WHERE thread_id=?", (thread_id,))
            self._x("DELETE FROM threads WHERE thread_id=?", (thread_id,))

    # -- episodes -----------------------------------------------------------------------------
    @staticmethod
    def _episode(row: sqlite3.Row) -> Episode:
        return Episode(
            uuid=row["uuid"], user_id=row["user_id"], thread_id=row["thread_id"], source=row["source"],
            role=row["role"], name=row["name"], content=row["content"],
            reference_time=row["reference_time"], ingested_at=row["ingested_at"], status=row["status"],
            error=row["error"], metadata=json.loads(row["metadata"]),
        )

    def add_episodes(self, episodes: Sequence[Episode]) -> None:
        """Persist raw episodes (and their full text) in one transaction."""
        with self.atomic():
            for ep in episodes:
                cur = self._x(
                    "INSERT INTO episodes (uuid, user_id, thread_id, source, role, name, content,"
                    " reference_time, ingested_at, status, error, metadata) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (ep.uuid, ep.user_id, ep.thread_id, ep.source.value,
                     ep.role.value if ep.role else None, ep.name, ep.content,
                     format_ts(ep.reference_time), format_ts(ep.ingested_at), ep.status.value, ep.error,
                     _dumps(ep.metadata)),
                )
                body = f"{ep.name}: {ep.content}" if ep.name else ep.content
                self._x("INSERT INTO fts_episode(rowid, body, ukey) VALUES (?,?,?)",
                        (cur.lastrowid, body, _ukey(ep.user_id)))

    def delete_episode(self, uuid: str) -> list[str]:
        """Remove an episode, its full text and links, and the facts it alone stated; returns those facts' ids."""
        with self.atomic():
            row = self._one("SELECT seq FROM episodes WHERE uuid=?", (uuid,))
            if row is None:
                return []
            orphans = [r[0] for r in self._all(
                "SELECT fe.fact_uuid FROM fact_episodes fe WHERE fe.episode_uuid=? AND NOT EXISTS"
                " (SELECT 1 FROM fact_episodes o WHERE o.fact_uuid=fe.fact_uuid AND o.episode_uuid<>?)",
                (uuid, uuid))]
            for fact_uuid in orphans:
                frow = self._one("SELECT rowid FROM facts WHERE uuid=?", (fact_uuid,))
                if frow:
                    self._x("DELETE FROM fts_fact WHERE rowid=?", (frow[0],))
                self._x("DELETE FROM facts WHERE uuid=?", (fact_uuid,))
            self._x("DELETE FROM fts_episode WHERE rowid=?", (row[0],))
            self._x("DELETE FROM fact_episodes WHERE episode_uuid=?", (uuid,))
            self._x("DELETE FROM mentions WHERE episode_uuid=?", (uuid,))
            self._x("DELETE FROM episodes WHERE uuid=?", (uuid,))
            return orphans

    def get_episodes(self, uuids: Sequence[str]) -> list[Episode]:
        """Episodes by id, in the order asked (missing ids skipped)."""
        if not uuids:
            return []
        marks = ",".join("?" * len(uuids))
        rows = {r["uuid"]: r for r in self._all(f"SELECT * FROM episodes WHERE uuid IN ({marks})", list(uuids))}
        return [self._episode(rows[u]) for u in uuids if u in rows]

    def list_episodes(
        self, user_id: str, *, thread_id: str | None = None, source: str | None = None,
        status: str | None = None, since: datetime | None = None, until: datetime | None = None,
        limit: int = 100, offset: int = 0, newest_first: bool = False,
    ) -> list[Episode]:
        """Episodes of a user, filtered, in reference-time order."""
        where, params = ["user_id=?"], [user_id]
        for col, val in (("thread_id", thread_id), ("source", source), ("status", status)):
            if val is not None:
                where.append(f"{col}=?")
                params.append(val)
        if since is not None:
            where.append("reference_time>=?")
            params.append(format_ts(since))  # type: ignore[arg-type]
        if until is not None:
            where.append("reference_time<?")
            params.append(format_ts(until))  # type: ignore[arg-type]
        order = "DESC" if newest_first else "ASC"
        rows = self._all(
            f"SELECT * FROM episodes WHERE {' AND '.join(where)} ORDER BY reference_time {order}, seq {order}"
            " LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [self._episode(r) for r in rows]

    def thread_messages(self, thread_id: str, *, last: int | None = None) -> list[Episode]:
        """A thread's message episodes in the order they were added (the last ``last`` if given)."""
        if last is None:
            rows = self._all("SELECT * FROM episodes WHERE thread_id=? AND source='message' ORDER BY seq",
                             (thread_id,))
        else:
            rows = self._all(
                "SELECT * FROM (SELECT * FROM episodes WHERE thread_id=? AND source='message'"
                " ORDER BY seq DESC LIMIT ?) ORDER BY seq", (thread_id, last))
        return [self._episode(r) for r in rows]

    def pending_episodes(self, user_id: str, limit: int = 256) -> list[Episode]:
        """Unprocessed episodes of a user, oldest reference time first."""
        rows = self._all(
            "SELECT * FROM episodes WHERE user_id=? AND status='pending' ORDER BY reference_time, seq LIMIT ?",
            (user_id, limit),
        )
        return [self._episode(r) for r in rows]

    def users_with_pending(self) -> list[str]:
        return [r[0] for r in self._all("SELECT DISTINCT user_id FROM episodes WHERE status='pending'")]

    def set_episode_status(self, uuid: str, status: EpisodeStatus, error: str | None = None) -> None:
        self._x("UPDATE episodes SET status=?, error=?, attempts=attempts+1 WHERE uuid=?",
                (status.value, error, uuid))

    def count_episodes(self, user_id: str, status: str | None = None) -> int:
        if status is None:
            row = self._one("SELECT COUNT(*) FROM episodes WHERE user_id=?", (user_id,))
        else:
            row = self._one("SELECT COUNT(*) FROM episodes WHERE user_id=? AND status=?", (user_id, status))
        return int(row[0])  # type: ignore[index]

    # -- entities -----------------------------------------------------------------------------
    @staticmethod
    def _entity(row: sqlite3.Row) -> Entity:
        return Entity(
            uuid=row["uuid"], user_id=row["user_id"], name=row["name"], type=row["type"],
            aliases=json.loads(row["aliases"]), summary=row["summary"],
            attributes=json.loads(row["attributes"]), created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def _entity_fts(self, entity: Entity, rowid: int) -> None:
        body = " ".join([entity.name, *entity.aliases, entity.type, entity.summary or ""])
        self._x("DELETE FROM fts_entity WHERE rowid=?", (rowid,))
        self._x("INSERT INTO fts_entity(rowid, body, ukey) VALUES (?,?,?)", (rowid, body, _ukey(entity.user_id)))

    def save_entity(self, entity: Entity) -> None:
        """Insert or replace an entity, its name index and its full text."""
        with self.atomic():
            self._x(
                "INSERT INTO entities VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(uuid) DO UPDATE SET"
                " name=excluded.name, type=excluded.type, aliases=excluded.aliases, summary=excluded.summary,"
                " attributes=excluded.attributes, updated_at=excluded.updated_at",
                (entity.uuid, entity.user_id, entity.name, entity.type, _dumps(entity.aliases),
                 entity.summary, _dumps(entity.attributes), format_ts(entity.created_at),
                 format_ts(entity.updated_at)),
            )
            for name in {normalize_name(n) for n in (entity.name, *entity.aliases)} - {""}:
                self._x("INSERT OR IGNORE INTO entity_names VALUES (?,?,?)", (entity.user_id, name, entity.uuid))
            rowid = self._one("SELECT rowid FROM entities WHERE uuid=?", (entity.uuid,))[0]  # type: ignore[index]
            self._entity_fts(entity, rowid)

    def get_entities(self, uuids: Sequence[str]) -> list[Entity]:
        if not uuids:
            return []
        marks = ",".join("?" * len(uuids))
        rows = {r["uuid"]: r for r in self._all(f"SELECT * FROM entities WHERE uuid IN ({marks})", list(uuids))}
        return [self._entity(rows[u]) for u in uuids if u in rows]

    def entities_by_names(self, user_id: str, names: Sequence[str]) -> dict[str, list[Entity]]:
        """Entities whose name or alias normalises to each of ``names`` (keyed by normalised name)."""
        norms = sorted({normalize_name(n) for n in names} - {""})
        if not norms:
            return {}
        marks = ",".join("?" * len(norms))
        rows = self._all(
            f"SELECT n.norm, e.* FROM entity_names n JOIN entities e ON e.uuid = n.entity_uuid"
            f" WHERE n.user_id=? AND n.norm IN ({marks})", (user_id, *norms))
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
        with self._lock:
            for entity_uuid, episode_uuid in pairs:
                self._x("INSERT OR IGNORE INTO mentions VALUES (?,?,?)", (entity_uuid, episode_uuid, user_id))

    def mention_stats(self, user_id: str, min_threads: int = 2, limit: int = 50) -> list[sqlite3.Row]:
        """Per entity: episodes and distinct threads mentioning it, first and last time seen."""
        return self._all(
            "SELECT m.entity_uuid AS entity_uuid, COUNT(*) AS n, COUNT(DISTINCT e.thread_id) AS threads,"
            " MIN(e.reference_time) AS first_seen, MAX(e.reference_time) AS last_seen,"
            " json_group_array(DISTINCT e.thread_id) AS sessions"
            " FROM mentions m JOIN episodes e ON e.uuid = m.episode_uuid WHERE m.user_id=?"
            " GROUP BY m.entity_uuid HAVING COUNT(DISTINCT e.thread_id) >= ? ORDER BY n DESC LIMIT ?",
            (user_id, min_threads, limit),
        )

    def count_threads(self, user_id: str) -> int:
        return int(self._one("SELECT COUNT(*) FROM threads WHERE user_id=?", (user_id,))[0])  # type: ignore[index]

    # -- facts --------------------------------------------------------------------------------
    def _facts(self, rows: list[sqlite3.Row]) -> list[Fact]:
        if not rows:
            return []
        uuids = [r["uuid"] for r in rows]
        marks = ",".join("?" * len(uuids))
        prov: dict[str, list[str]] = {}
        for r in self._all(
            f"SELECT fe.fact_uuid, fe.episode_uuid FROM fact_episodes fe JOIN episodes e"
            f" ON e.uuid = fe.episode_uuid WHERE fe.fact_uuid IN ({marks}) ORDER BY e.reference_time, e.seq",
            uuids,
        ):
            prov.setdefault(r[0], []).append(r[1])
        ent_ids = list({r["source_uuid"] for r in rows} | {r["target_uuid"] for r in rows})
        names = {e.uuid: e.name for e in self.get_entities(ent_ids)}
        return [
            Fact(
                uuid=r["uuid"], user_id=r["user_id"], source_uuid=r["source_uuid"], target_uuid=r["target_uuid"],
                source_name=names.get(r["source_uuid"]), target_name=names.get(r["target_uuid"]),
                relation=r["relation"], fact=r["fact"], valid_at=r["valid_at"], invalid_at=r["invalid_at"],
                created_at=r["created_at"], expired_at=r["expired_at"], invalidated_by=r["invalidated_by"],
                episodes=prov.get(r["uuid"], []), attributes=json.loads(r["attributes"]),
            )
            for r in rows
        ]

    def save_fact(self, fact: Fact) -> None:
        """Insert or update a fact (its text, validity and provenance)."""
        with self.atomic():
            self._x(
                "INSERT INTO facts VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(uuid) DO UPDATE SET"
                " fact=excluded.fact, valid_at=excluded.valid_at, invalid_at=excluded.invalid_at,"
                " expired_at=excluded.expired_at, invalidated_by=excluded.invalidated_by,"
                " attributes=excluded.attributes",
                (fact.uuid, fact.user_id, fact.source_uuid, fact.target_uuid, fact.relation, fact.fact,
                 format_ts(fact.valid_at), format_ts(fact.invalid_at), format_ts(fact.created_at),
                 format_ts(fact.expired_at), fact.invalidated_by, _dumps(fact.attributes)),
            )
            for ep in fact.episodes:
                self._x("INSERT OR IGNORE INTO fact_episodes VALUES (?,?)", (fact.uuid, ep))
            rowid = self._one("SELECT rowid FROM facts WHERE uuid=?", (fact.uuid,))[0]  # type: ignore[index]
            self._x("DELETE FROM fts_fact WHERE rowid=?", (rowid,))
            self._x("INSERT INTO fts_fact(rowid, body, ukey) VALUES (?,?,?)",
                    (rowid, f"{fact.fact} {fact.relation.replace('_', ' ').lower()}", _ukey(fact.user_id)))

    def get_facts(self, uuids: Sequence[str]) -> list[Fact]:
        if not uuids:
            return []
        marks = ",".join("?" * len(uuids))
        rows = self._all(f"SELECT * FROM facts WHERE uuid IN ({marks})", list(uuids))
        by_id = {f.uuid: f for f in self._facts(rows)}
        return [by_id[u] for u in uuids if u in by_id]

    def facts_from(self, user_id: str, source_uuid: str, relation: str, *, current_only: bool = True) -> list[Fact]:
        """Facts with this subject and relation (the candidates for duplicates and contradictions)."""
        sql = "SELECT * FROM facts WHERE user_id=? AND source_uuid=? AND relation=?"
        if current_only:
            sql += " AND invalid_at IS NULL AND expired_at IS NULL"
        return self._facts(self._all(sql + " ORDER BY valid_at", (user_id, source_uuid, relation)))

    def facts_touching(self, user_id: str, entity_uuids: Sequence[str], limit: int = 200) -> list[Fact]:
        """Facts with any of these entities as an endpoint, newest first (one BFS hop)."""
        if not entity_uuids:
            return []
        marks = ",".join("?" * len(entity_uuids))
        rows = self._all(
            f"SELECT * FROM facts WHERE user_id=? AND (source_uuid IN ({marks}) OR target_uuid IN ({marks}))"
            " ORDER BY (invalid_at IS NULL) DESC, valid_at DESC LIMIT ?",
            (user_id, *entity_uuids, *entity_uuids, limit),
        )
        return self._facts(rows)

    def list_facts(
        self, user_id: str, *, thread_id: str | None = None, relation: str | None = None,
        current_only: bool = False, as_of: datetime | None = None, since: datetime | None = None,
        until: datetime | None = None, limit: int = 100, offset: int = 0,
    ) -> list[Fact]:
        """Facts of a user. ``as_of`` keeps what was true at that moment (valid time)."""
        where, params = ["f.user_id=?"], [user_id]
        if thread_id is not None:
            where.append("EXISTS (SELECT 1 FROM fact_episodes fe JOIN episodes e ON e.uuid=fe.episode_uuid"
                         " WHERE fe.fact_uuid=f.uuid AND e.thread_id=?)")
            params.append(thread_id)
        if relation is not None:
            where.append("f.relation=?")
            params.append(relation)
        if current_only:
            where.append("f.invalid_at IS NULL AND f.expired_at IS NULL")
        if as_of is not None:
            t = format_ts(as_of)
            where.append("(f.valid_at IS NULL OR f.valid_at<=?) AND (f.invalid_at IS NULL OR f.invalid_at>?)")
            params += [t, t]  # type: ignore[list-item]
        if since is not None:
            where.append("f.valid_at>=?")
            params.append(format_ts(since))  # type: ignore[arg-type]
        if until is not None:
            where.append("f.valid_at<?")
            params.append(format_ts(until))  # type: ignore[arg-type]
        rows = self._all(
            f"SELECT * FROM facts f WHERE {' AND '.join(where)} ORDER BY f.valid_at, f.created_at LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return self._facts(rows)

    def facts_of_episodes(self, episode_uuids: Sequence[str]) -> dict[str, list[str]]:
        """Fact ids that each episode supports."""
        if not episode_uuids:
            return {}
        marks = ",".join("?" * len(episode_uuids))
        out: dict[str, list[str]] = {}
        for r in self._all(f"SELECT episode_uuid, fact_uuid FROM fact_episodes WHERE episode_uuid IN ({marks})",
                           list(episode_uuids)):
            out.setdefault(r[0], []).append(r[1])
        return out

    def count_facts(self, user_id: str) -> int:
        return int(self._one("SELECT COUNT(*) FROM facts WHERE user_id=?", (user_id,))[0])  # type: ignore[index]

    # -- observations -------------------------------------------------------------------------
    @staticmethod
    def _observation(row: sqlite3.Row) -> Observation:
        return Observation(
            uuid=row["uuid"], user_id=row["user_id"], key=row["key"], text=row["text"],
            evidence=json.loads(row["evidence"]), first_seen=row["first_seen"], last_seen=row["last_seen"],
            count=row["count"], sessions=json.loads(row["sessions"]),
        )

    def save_observation(self, obs: Observation) -> Observation:
        """Insert or update the user's observation with this key; returns the stored record."""
        with self.atomic():
            row = self._one("SELECT uuid, rowid FROM observations WHERE user_id=? AND key=?", (obs.user_id, obs.key))
            uuid = row["uuid"] if row else obs.uuid
            self._x(
                "INSERT INTO observations VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(user_id, key) DO UPDATE SET"
                " text=excluded.text, evidence=excluded.evidence, first_seen=excluded.first_seen,"
                " last_seen=excluded.last_seen, count=excluded.count, sessions=excluded.sessions",
                (uuid, obs.user_id, obs.key, obs.text, _dumps(obs.evidence), format_ts(obs.first_seen),
                 format_ts(obs.last_seen), obs.count, _dumps(obs.sessions)),
            )
            rowid = self._one("SELECT rowid FROM observations WHERE uuid=?", (uuid,))[0]  # type: ignore[index]
            self._x("DELETE FROM fts_observation WHERE rowid=?", (rowid,))
            self._x("INSERT INTO fts_observation(rowid, body, ukey) VALUES (?,?,?)",
                    (rowid, obs.text, _ukey(obs.user_id)))
        return obs.model_copy(update={"uuid": uuid})

    def delete_observation(self, user_id: str, key: str) -> None:
        with self.atomic():
            row = self._one("SELECT rowid FROM observations WHERE user_id=? AND key=?", (user_id, key))
            if row:
                self._x("DELETE FROM fts_observation WHERE rowid=?", (row[0],))
                self._x("DELETE FROM observations WHERE rowid=?", (row[0],))

    def list_observations(self, user_id: str, limit: int = 100) -> list[Observation]:
        rows = self._all("SELECT * FROM observations WHERE user_id=? ORDER BY count DESC, last_seen DESC LIMIT ?",
                         (user_id, limit))
        return [self._observation(r) for r in rows]

    def get_observations(self, uuids: Sequence[str]) -> list[Observation]:
        if not uuids:
            return []
        marks = ",".join("?" * len(uuids))
        rows = {r["uuid"]: r for r in self._all(f"SELECT * FROM observations WHERE uuid IN ({marks})", list(uuids))}
        return [self._observation(rows[u]) for u in uuids if u in rows]

    # -- full text ----------------------------------------------------------------------------
    _FTS_SOURCE = {"episode": ("episodes", "seq"), "fact": ("facts", "rowid"),
                   "entity": ("entities", "rowid"), "observation": ("observations", "rowid")}

    def search_text(self, user_id: str, kind: str, query: str, limit: int = 20) -> list[tuple[str, float]]:
        """BM25 over one kind of record of one user: (uuid, score) best first, score > 0."""
        match = fts_query(query)
        if match is None or limit <= 0:
            return []
        table, key = self._FTS_SOURCE[kind]
        rows = self._all(
            f"SELECT t.uuid, -bm25(fts_{kind}, 1.0, 0.0) AS score FROM fts_{kind}"
            f" JOIN {table} t ON t.{key} = fts_{kind}.rowid"
            f" WHERE fts_{kind} MATCH ? ORDER BY rank LIMIT ?",
            (f'ukey:"{_ukey(user_id)}" AND body:({match})', limit),
        )
        return [(r[0], float(r[1])) for r in rows]

    # -- model-call accounting ------------------------------------------------------------------
    def record_llm_call(self, *, purpose: str, model: str, prompt_tokens: int, completion_tokens: int,
                        latency_ms: float, ok: bool, error: str | None, attempt: int,
                        episodes: Sequence[str], created_at: datetime) -> None:
        """Store one model call; its tokens are shared evenly among the episodes it served."""
        with self.atomic():
            user = None
            if episodes:
                row = self._one("SELECT user_id FROM episodes WHERE uuid=?", (episodes[0],))
                user = row[0] if row else None
            cur = self._x(
                "INSERT INTO llm_calls (user_id, purpose, model, prompt_tokens, completion_tokens, latency_ms, ok,"
                " error, attempt, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (user, purpose, model, prompt_tokens, completion_tokens, latency_ms, int(ok), error, attempt,
                 format_ts(created_at)))
            unique = list(dict.fromkeys(episodes))
            for ep in unique:
                self._x("INSERT OR IGNORE INTO llm_call_episodes VALUES (?,?,?)", (cur.lastrowid, ep, 1 / len(unique)))

    def llm_usage(self, user_id: str, episode_uuid: str | None = None) -> dict[str, Any]:
        """Summed calls, tokens and latency of a user's model calls (or an episode's share of them).

        Every HTTP attempt counts as a call, failed and retried ones included; ``calls_by_purpose``
        splits the calls by task (extract, resolve, summarize).
        """
        params: tuple[str, ...]
        if episode_uuid is None:
            source, share, params = "llm_calls c", "1", (user_id,)
            where = "c.user_id=?"
        else:
            source = "llm_call_episodes e JOIN llm_calls c ON c.id=e.call_id"
            share, params, where = "e.share", (episode_uuid, user_id), "e.episode_uuid=? AND c.user_id=?"
        row = self._one(
            f"SELECT COALESCE(SUM({share}),0), COALESCE(SUM(c.prompt_tokens*{share}),0),"
            f" COALESCE(SUM(c.completion_tokens*{share}),0), COALESCE(SUM(c.latency_ms*{share}),0),"
            f" COALESCE(SUM((1-c.ok)*{share}),0) FROM {source} WHERE {where}", params)
        keys = ("calls", "prompt_tokens", "completion_tokens", "latency_ms", "failed_calls")
        assert row is not None  # an aggregate always returns a row
        out: dict[str, Any] = dict(zip(keys, (float(v) for v in row)))
        rows = self._all(f"SELECT c.purpose, SUM({share}) FROM {source} WHERE {where} GROUP BY c.purpose"
                         " ORDER BY c.purpose", params)
        out["calls_by_purpose"] = {r[0]: float(r[1]) for r in rows}
        return out

    # -- templates ----------------------------------------------------------------------------
    @staticmethod
    def _template(row: sqlite3.Row) -> ContextTemplate:
        return ContextTemplate(template_id=row["template_id"], template=row["template"], version=row["version"],
                               created_at=row["created_at"], updated_at=row["updated_at"])

    def save_template(self, template: ContextTemplate) -> None:
        self._x(
            "INSERT INTO templates VALUES (?,?,?,?,?) ON CONFLICT(template_id) DO UPDATE SET"
            " template=excluded.template, version=excluded.version, updated_at=excluded.updated_at",
            (template.template_id, template.template, template.version, format_ts(template.created_at),
             format_ts(template.updated_at)),
        )

    def get_template(self, template_id: str) -> ContextTemplate | None:
        row = self._one("SELECT * FROM templates WHERE template_id=?", (template_id,))
        return self._template(row) if row else None

    def list_templates(self) -> list[ContextTemplate]:
        return [self._template(r) for r in self._all("SELECT * FROM templates ORDER BY template_id")]

    def delete_template(self, template_id: str) -> None:
        self._x("DELETE FROM templates WHERE template_id=?", (template_id,))
