"""SQLite record store: users, threads, episodes, the temporal graph, observations, templates, FTS5.

Plain, direct SQL in the manner of sqlite-utils, numbered migrations, an optional
``tracer(sql, params)``. Connections and transactions live in ``sqlite_base`` (a connection per
thread, one writer at a time), the graph tables in ``sqlite_graph``. Full text uses FTS5 with the
Porter stemmer; each FTS row carries a per-user key token so one user's search never reads
another's rows. This class holds records only: ``EmbeddedStore`` adds the vectors.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .._time import format_ts, stored_ts
from ..models import ContextTemplate, Episode, EpisodeSource, EpisodeStatus, Role, Thread, User, member, stored
from ..text import normalize_name
from .base import KINDS, EpisodeHead, Kind
from .sqlite_base import Tracer, dumps, loads, ukey
from .sqlite_graph import GraphTables, fts_query

__all__ = ["SQLiteStore", "Tracer", "fts_query", "normalize_name"]


# the columns ``SQLiteStore._episode`` reads, in its order
_EPISODE = "uuid, user_id, thread_id, source, role, name, content, reference_time, ingested_at, status, error, metadata"


class SQLiteStore(GraphTables):
    """Every record and all full text of one memory in one SQLite file (or a private temporary one)."""

    round_trips = False  # reads are in-process

    # -- users --------------------------------------------------------------------------------
    @staticmethod
    def _user(row: sqlite3.Row) -> User:
        return User(
            user_id=row["user_id"], email=row["email"], first_name=row["first_name"],
            last_name=row["last_name"], metadata=json.loads(row["metadata"]), summary=row["summary"],
            entity_uuid=row["entity_uuid"], created_at=row["created_at"], updated_at=row["updated_at"],
        )

    def add_user(self, user: User) -> None:
        self._w(
            "INSERT INTO users VALUES (?,?,?,?,?,?,?,?,?)",
            (user.user_id, user.email, user.first_name, user.last_name, dumps(user.metadata),
             user.summary, user.entity_uuid, format_ts(user.created_at), format_ts(user.updated_at)),
        )

    def update_user(self, user: User) -> None:
        self._w(
            "UPDATE users SET email=?, first_name=?, last_name=?, metadata=?, summary=?, entity_uuid=?,"
            " updated_at=? WHERE user_id=?",
            (user.email, user.first_name, user.last_name, dumps(user.metadata), user.summary,
             user.entity_uuid, format_ts(user.updated_at), user.user_id),
        )

    def get_user(self, user_id: str) -> User | None:
        row = self._one("SELECT * FROM users WHERE user_id=?", (user_id,))
        return self._user(row) if row else None

    def list_users(self, limit: int = 100, offset: int = 0) -> list[User]:
        rows = self._all("SELECT * FROM users ORDER BY created_at, user_id LIMIT ? OFFSET ?", (limit, offset))
        return [self._user(r) for r in rows]

    def user_ids(self) -> list[str]:
        return [r[0] for r in self._all("SELECT user_id FROM users")]

    def count_users(self) -> int:
        return self._count("SELECT COUNT(*) FROM users")

    def _delete_user_rows(self, user_id: str) -> None:
        """Remove every row of the user (FTS and vector tasks included), then purge freed pages."""
        key = ukey(user_id)
        with self.atomic():
            for kind in KINDS:
                self._w(f"DELETE FROM fts_{kind} WHERE ukey MATCH ?", (f'"{key}"',))
            self._w("DELETE FROM fact_episodes WHERE fact_uuid IN (SELECT uuid FROM facts WHERE user_id=?)",
                    (user_id,))
            self._w("DELETE FROM fact_episodes WHERE episode_uuid IN (SELECT uuid FROM episodes WHERE user_id=?)",
                    (user_id,))
            self._w("DELETE FROM llm_call_episodes WHERE call_id IN (SELECT id FROM llm_calls WHERE user_id=?)",
                    (user_id,))
            for table in ("mentions", "facts", "entity_names", "entities", "observations", "episodes", "llm_calls",
                          "vector_tasks"):
                self._w(f"DELETE FROM {table} WHERE user_id=?", (user_id,))
            self._w("DELETE FROM threads WHERE user_id=?", (user_id,))
            self._w("DELETE FROM users WHERE user_id=?", (user_id,))
        self.purge()

    # -- threads ------------------------------------------------------------------------------
    @staticmethod
    def _thread(row: sqlite3.Row) -> Thread:
        return Thread(thread_id=row["thread_id"], user_id=row["user_id"],
                      metadata=json.loads(row["metadata"]), created_at=row["created_at"])

    def add_thread(self, thread: Thread) -> None:
        self._w("INSERT INTO threads VALUES (?,?,?,?)",
                (thread.thread_id, thread.user_id, dumps(thread.metadata), format_ts(thread.created_at)))

    def get_thread(self, thread_id: str) -> Thread | None:
        row = self._one("SELECT * FROM threads WHERE thread_id=?", (thread_id,))
        return self._thread(row) if row else None

    def list_threads(self, user_id: str, limit: int = 100, offset: int = 0) -> list[Thread]:
        rows = self._all(
            "SELECT * FROM threads WHERE user_id=? ORDER BY created_at, thread_id LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        return [self._thread(r) for r in rows]

    def count_threads(self, user_id: str) -> int:
        return self._count("SELECT COUNT(*) FROM threads WHERE user_id=?", (user_id,))

    def _delete_thread_rows(self, thread_id: str) -> tuple[str | None, list[str]]:
        """Remove the thread and its episodes (facts learned from them stay); returns (user, episode ids)."""
        with self.atomic():
            thread = self.get_thread(thread_id)
            rows = self._all("SELECT seq, uuid FROM episodes WHERE thread_id=?", (thread_id,))
            for row in rows:
                self._w("DELETE FROM fts_episode WHERE rowid=?", (row["seq"],))
                self._w("DELETE FROM fact_episodes WHERE episode_uuid=?", (row["uuid"],))
                self._w("DELETE FROM mentions WHERE episode_uuid=?", (row["uuid"],))
            ids = [r["uuid"] for r in rows]
            self._unqueue("episode", ids)
            self._w("DELETE FROM episodes WHERE thread_id=?", (thread_id,))
            self._w("DELETE FROM threads WHERE thread_id=?", (thread_id,))
        return (thread.user_id if thread else None), ids

    # -- episodes -----------------------------------------------------------------------------
    @staticmethod
    def _episode(r: Sequence[Any]) -> Episode:
        """An episode from a row of ``_EPISODE`` columns (by position: a read decodes hundreds)."""
        return stored(Episode, {
            "uuid": r[0], "user_id": r[1], "thread_id": r[2], "source": member(EpisodeSource, r[3]),
            "content": r[6], "role": None if r[4] is None else member(Role, r[4]), "name": r[5],
            "reference_time": stored_ts(r[7]), "ingested_at": stored_ts(r[8]),
            "status": member(EpisodeStatus, r[9]), "error": r[10], "metadata": loads(r[11]),
        })

    def add_episodes(self, episodes: Sequence[Episode]) -> None:
        """Persist raw episodes (their full text, and a vector task each) in one transaction."""
        with self.atomic():
            for ep in episodes:
                cur = self._w(
                    "INSERT INTO episodes (uuid, user_id, thread_id, source, role, name, content,"
                    " reference_time, ingested_at, status, error, metadata) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (ep.uuid, ep.user_id, ep.thread_id, ep.source.value,
                     ep.role.value if ep.role else None, ep.name, ep.content,
                     format_ts(ep.reference_time), format_ts(ep.ingested_at), ep.status.value, ep.error,
                     dumps(ep.metadata)),
                )
                body = f"{ep.name}: {ep.content}" if ep.name else ep.content
                self._w("INSERT INTO fts_episode(rowid, body, ukey) VALUES (?,?,?)",
                        (cur.lastrowid, body, ukey(ep.user_id)))
                self._queue(ep.user_id, "episode", ep.uuid)

    def _delete_episode_rows(self, user_id: str, uuid: str) -> list[str]:
        """Remove an episode, its full text, links and task, and the facts it alone stated (their ids)."""
        with self.atomic():
            row = self._one("SELECT seq FROM episodes WHERE uuid=? AND user_id=?", (uuid, user_id))
            if row is None:
                return []
            orphans = [r[0] for r in self._all(
                "SELECT fe.fact_uuid FROM fact_episodes fe WHERE fe.episode_uuid=? AND NOT EXISTS"
                " (SELECT 1 FROM fact_episodes o WHERE o.fact_uuid=fe.fact_uuid AND o.episode_uuid<>?)",
                (uuid, uuid))]
            for fact_uuid in orphans:
                frow = self._one("SELECT rowid FROM facts WHERE uuid=? AND user_id=?", (fact_uuid, user_id))
                if frow:
                    self._w("DELETE FROM fts_fact WHERE rowid=?", (frow[0],))
                self._w("DELETE FROM facts WHERE uuid=? AND user_id=?", (fact_uuid, user_id))
            self._unqueue("fact", orphans)
            self._unqueue("episode", [uuid])
            self._w("DELETE FROM fts_episode WHERE rowid=?", (row[0],))
            self._w("DELETE FROM fact_episodes WHERE episode_uuid=?", (uuid,))
            self._w("DELETE FROM mentions WHERE episode_uuid=?", (uuid,))
            self._w("DELETE FROM episodes WHERE uuid=?", (uuid,))
            return orphans

    def get_episodes(self, user_id: str, uuids: Sequence[str]) -> list[Episode]:
        """The user's episodes by id, in the order asked (unknown ids skipped)."""
        if not uuids:
            return []
        marks = ",".join("?" * len(uuids))
        # "+user_id": look up by the unique uuid index, not by scanning the user's episodes by time
        # (SQLite's planner picks episodes_by_time otherwise: 7x slower at 10k episodes)
        rows = {r[0]: r for r in self._packed(
            _EPISODE, f"FROM episodes WHERE +user_id=? AND uuid IN ({marks})", (user_id, *uuids))}
        return [self._episode(rows[u]) for u in uuids if u in rows]

    def episode_heads(self, user_id: str, uuids: Sequence[str]) -> dict[str, EpisodeHead]:
        """Ranking's view of episodes by id: no text or JSON is read or decoded."""
        if not uuids:
            return {}
        marks = ",".join("?" * len(uuids))
        rows = self._packed("uuid, thread_id, role, name, reference_time, length(content), seq",
                            f"FROM episodes WHERE +user_id=? AND uuid IN ({marks})", (user_id, *uuids))
        found = {r[0]: r for r in rows}
        return {u: EpisodeHead(u, r[1], None if r[2] is None else member(Role, r[2]), r[3],
                               stored_ts(r[4]), r[5], r[6])
                for u in uuids if (r := found.get(u)) is not None}

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
            params.append(format_ts(since) or "")
        if until is not None:
            where.append("reference_time<?")
            params.append(format_ts(until) or "")
        order = "DESC" if newest_first else "ASC"
        rows = self._all(
            f"SELECT {_EPISODE} FROM episodes WHERE {' AND '.join(where)}"
            f" ORDER BY reference_time {order}, seq {order}"
            " LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [self._episode(r) for r in rows]

    def adjacent_episodes(self, user_id: str, uuids: Sequence[str]) -> dict[str, list[Episode]]:
        """For each of the user's threaded episodes among ``uuids``: the episode just before it in its
        thread and the one just after (by reference time, ties by the order added), in one statement."""
        ids = list(dict.fromkeys(uuids))
        if not ids:
            return {}
        near = ("(SELECT e.uuid FROM episodes e WHERE e.thread_id = x.thread_id"
                " AND e.reference_time {op} x.reference_time AND e.user_id = x.user_id"
                " ORDER BY e.reference_time {order}, e.seq {order} LIMIT 1)")
        rows = self._packed(
            f"x.uuid, {near.format(op='<', order='DESC')}, {near.format(op='>', order='ASC')}",
            f"FROM episodes x WHERE +x.user_id=? AND x.uuid IN ({','.join('?' * len(ids))})"
            " AND x.thread_id IS NOT NULL",
            (user_id, *ids))
        pairs = {r[0]: [u for u in (r[1], r[2]) if u is not None] for r in rows}
        found = {e.uuid: e for e in self.get_episodes(user_id, [u for pair in pairs.values() for u in pair])}
        return {uid: [found[u] for u in pairs[uid] if u in found] for uid in ids if pairs.get(uid)}

    def adjacent_with_heads(self, user_id: str,
                            uuids: Sequence[str]) -> tuple[dict[str, list[Episode]], dict[str, EpisodeHead]]:
        """``adjacent_episodes``, without heads: in-process they would be a read of their own, and the
        retriever's memo already holds most of them."""
        return self.adjacent_episodes(user_id, uuids), {}

    def thread_openers(self, user_id: str, thread_ids: Sequence[str], n: int = 2) -> dict[str, list[str]]:
        ids = list(dict.fromkeys(thread_ids))
        if not ids or n < 1:
            return {}
        one = ("SELECT * FROM (SELECT thread_id, uuid, reference_time, seq FROM episodes WHERE thread_id=?"
               " AND user_id=? ORDER BY reference_time, seq LIMIT ?)")
        rows: list[list[Any]] = []
        for i in range(0, len(ids), 200):  # a compound select may join at most 500 terms
            part = ids[i:i + 200]
            rows += self._packed(  # packed: the read path reads this beside other threads
                "thread_id, uuid, reference_time, seq", f"FROM ({' UNION ALL '.join([one] * len(part))})",
                [v for t in part for v in (t, user_id, n)])
        out: dict[str, list[str]] = {}
        for tid, uid, *_ in sorted(rows, key=lambda r: (r[2], r[3])):  # the stored times sort as text
            out.setdefault(tid, []).append(uid)
        return out

    def thread_messages(self, thread_id: str, *, last: int | None = None) -> list[Episode]:
        """A thread's message episodes in the order they were added (the last ``last`` if given)."""
        if last is None:
            rows = self._all(f"SELECT {_EPISODE} FROM episodes WHERE thread_id=? AND source='message' ORDER BY seq",
                             (thread_id,))
        else:
            rows = self._all(
                f"SELECT {_EPISODE} FROM (SELECT {_EPISODE}, seq FROM episodes WHERE thread_id=? AND source='message'"
                " ORDER BY seq DESC LIMIT ?) ORDER BY seq", (thread_id, last))
        return [self._episode(r) for r in rows]

    def pending_episodes(self, user_id: str, limit: int = 256) -> list[Episode]:
        """Unprocessed episodes of a user, oldest reference time first."""
        rows = self._all(
            f"SELECT {_EPISODE} FROM episodes WHERE user_id=? AND status='pending'"
            " ORDER BY reference_time, seq LIMIT ?",
            (user_id, limit),
        )
        return [self._episode(r) for r in rows]

    def users_with_pending(self) -> list[str]:
        return [r[0] for r in self._all("SELECT DISTINCT user_id FROM episodes WHERE status='pending'")]

    def set_episode_status(self, user_id: str, uuid: str, status: EpisodeStatus, error: str | None = None) -> None:
        self._w("UPDATE episodes SET status=?, error=?, attempts=attempts+1 WHERE uuid=? AND user_id=?",
                (status.value, error, uuid, user_id))

    def count_episodes(self, user_id: str, status: str | None = None) -> int:
        if status is None:
            return self._count("SELECT COUNT(*) FROM episodes WHERE user_id=?", (user_id,))
        return self._count("SELECT COUNT(*) FROM episodes WHERE user_id=? AND status=?", (user_id, status))

    def pending_kind(self, kind: Kind, uuids: Sequence[str]) -> set[str]:
        """Which of these episode ids are still pending (the pipeline embeds those itself)."""
        if kind != "episode" or not uuids:
            return set()
        marks = ",".join("?" * len(uuids))
        return {r[0] for r in self._all(f"SELECT uuid FROM episodes WHERE status='pending' AND uuid IN ({marks})",
                                        list(uuids))}

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
            cur = self._w(
                "INSERT INTO llm_calls (user_id, purpose, model, prompt_tokens, completion_tokens, latency_ms, ok,"
                " error, attempt, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (user, purpose, model, prompt_tokens, completion_tokens, latency_ms, int(ok), error, attempt,
                 format_ts(created_at)))
            unique = list(dict.fromkeys(episodes))
            for ep in unique:
                self._w("INSERT OR IGNORE INTO llm_call_episodes VALUES (?,?,?)", (cur.lastrowid, ep, 1 / len(unique)))

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
        self._w(
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
        self._w("DELETE FROM templates WHERE template_id=?", (template_id,))
