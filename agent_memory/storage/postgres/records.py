"""Users, threads, episodes, templates and model-call accounting in PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from ...models import ContextTemplate, Episode, EpisodeSource, EpisodeStatus, Role, Thread, User, member, stored
from ..base import EpisodeHead
from .connection import PgConnection, Row, jsonb

__all__ = ["HEAD_COLS", "RecordsMixin", "head"]

_EPISODE_COLS = ("uuid, user_id, thread_id, source, role, name, content, reference_time, ingested_at, status, error,"
                 " metadata")


def _user(r: Row) -> User:
    return User(user_id=r["user_id"], email=r["email"], first_name=r["first_name"], last_name=r["last_name"],
                metadata=r["metadata"], summary=r["summary"], entity_uuid=r["entity_uuid"],
                created_at=r["created_at"], updated_at=r["updated_at"])


def _thread(r: Row) -> Thread:
    return Thread(thread_id=r["thread_id"], user_id=r["user_id"], metadata=r["metadata"], created_at=r["created_at"])


def utc(t: datetime) -> datetime:
    """A timestamptz as read (our sessions run in UTC: psycopg gives ``timezone.utc`` already) in UTC."""
    return t if t.tzinfo is timezone.utc else t.astimezone(timezone.utc)


def _episode(r: Sequence[Any]) -> Episode:
    """An episode as stored (see ``models.stored``: not validated again), from a row of ``_EPISODE_COLS``."""
    uuid, user_id, thread_id, source, role, name, content, reference_time, ingested_at, status, error, metadata = r
    return stored(Episode, {
        "uuid": uuid, "user_id": user_id, "thread_id": thread_id, "source": member(EpisodeSource, source),
        "content": content, "role": None if role is None else member(Role, role), "name": name,
        "reference_time": utc(reference_time), "ingested_at": utc(ingested_at),
        "status": member(EpisodeStatus, status), "error": error, "metadata": metadata})


# an episode's head, from the episodes row ``e`` (see ``head``)
HEAD_COLS = "e.thread_id, e.role, e.name, e.reference_time, length(e.content), e.seq"


def head(uuid: str, r: Sequence[Any]) -> EpisodeHead:
    """An episode's head from the values of ``HEAD_COLS``."""
    return EpisodeHead(uuid, r[0], None if r[1] is None else member(Role, r[1]), r[2], utc(r[3]), r[4], r[5])


def _template(r: Row) -> ContextTemplate:
    return ContextTemplate(template_id=r["template_id"], template=r["template"], version=r["version"],
                           created_at=r["created_at"], updated_at=r["updated_at"])


class RecordsMixin(PgConnection):
    """The non-graph records. Every read of a user's records filters by ``user_id``."""

    # -- users --------------------------------------------------------------------------------
    def add_user(self, user: User) -> None:
        with self.atomic():  # a savepoint inside a caller's transaction: a duplicate does not poison it
            self._x("INSERT INTO users VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                    (user.user_id, user.email, user.first_name, user.last_name, jsonb(user.metadata), user.summary,
                     user.entity_uuid, user.created_at, user.updated_at))

    def update_user(self, user: User) -> None:
        self._x("UPDATE users SET email=%s, first_name=%s, last_name=%s, metadata=%s, summary=%s, entity_uuid=%s,"
                " updated_at=%s WHERE user_id=%s",
                (user.email, user.first_name, user.last_name, jsonb(user.metadata), user.summary, user.entity_uuid,
                 user.updated_at, user.user_id))

    def get_user(self, user_id: str) -> User | None:
        row = self._one("SELECT * FROM users WHERE user_id=%s", (user_id,))
        return _user(row) if row else None

    def list_users(self, limit: int = 100, offset: int = 0) -> list[User]:
        rows = self._all("SELECT * FROM users ORDER BY created_at, user_id LIMIT %s OFFSET %s", (limit, offset))
        return [_user(r) for r in rows]

    def count_users(self) -> int:
        return int(self._scalar("SELECT count(*) FROM users"))

    # -- threads ------------------------------------------------------------------------------
    def add_thread(self, thread: Thread) -> None:
        with self.atomic():
            self._x("INSERT INTO threads VALUES (%s,%s,%s,%s)",
                    (thread.thread_id, thread.user_id, jsonb(thread.metadata), thread.created_at))

    def get_thread(self, thread_id: str) -> Thread | None:
        row = self._one("SELECT * FROM threads WHERE thread_id=%s", (thread_id,))
        return _thread(row) if row else None

    def list_threads(self, user_id: str, limit: int = 100, offset: int = 0) -> list[Thread]:
        rows = self._all("SELECT * FROM threads WHERE user_id=%s ORDER BY created_at, thread_id LIMIT %s OFFSET %s",
                         (user_id, limit, offset))
        return [_thread(r) for r in rows]

    def count_threads(self, user_id: str) -> int:
        return int(self._scalar("SELECT count(*) FROM threads WHERE user_id=%s", (user_id,)))

    def delete_thread(self, thread_id: str) -> None:
        """Remove the thread, its episodes and their vectors; facts learned from them stay in the graph."""
        with self._group():
            self._x("DELETE FROM fact_episodes WHERE episode_uuid IN (SELECT uuid FROM episodes WHERE thread_id=%s)",
                    (thread_id,))
            self._x("DELETE FROM mentions WHERE episode_uuid IN (SELECT uuid FROM episodes WHERE thread_id=%s)",
                    (thread_id,))
            self._x("DELETE FROM vector_tasks WHERE kind='episode' AND uuid IN"
                    " (SELECT uuid FROM episodes WHERE thread_id=%s)", (thread_id,))
            self._x("DELETE FROM episodes WHERE thread_id=%s", (thread_id,))  # vectors go with them (cascade)
            self._x("DELETE FROM threads WHERE thread_id=%s", (thread_id,))

    # -- episodes -----------------------------------------------------------------------------
    def add_episodes(self, episodes: Sequence[Episode]) -> None:
        """Persist new episodes, pending and each owed a vector, all in one transaction."""
        if not episodes:
            return
        with self._group():
            self._many(
                f"INSERT INTO episodes ({_EPISODE_COLS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                [(ep.uuid, ep.user_id, ep.thread_id, ep.source.value, ep.role.value if ep.role else None, ep.name,
                  ep.content, ep.reference_time, ep.ingested_at, ep.status.value, ep.error, jsonb(ep.metadata))
                 for ep in episodes])
            self._many("INSERT INTO vector_tasks (user_id, kind, uuid) VALUES (%s, 'episode', %s)"
                       " ON CONFLICT DO NOTHING", [(ep.user_id, ep.uuid) for ep in episodes])

    def get_episodes(self, user_id: str, uuids: Sequence[str]) -> list[Episode]:
        if not uuids:
            return []
        rows = {r[0]: r for r in self._tuples(
            f"SELECT {_EPISODE_COLS} FROM episodes WHERE user_id=%s AND uuid = ANY(%b)", (user_id, list(uuids)))}
        return [_episode(rows[u]) for u in uuids if u in rows]

    def episode_heads(self, user_id: str, uuids: Sequence[str]) -> dict[str, EpisodeHead]:
        """Ranking's view of episodes by id: neither the text nor the metadata crosses the wire."""
        if not uuids:
            return {}
        rows = self._tuples(f"SELECT e.uuid, {HEAD_COLS} FROM episodes e WHERE e.user_id=%s AND e.uuid = ANY(%b)",
                            (user_id, list(uuids)))
        found = {r[0]: r for r in rows}
        return {u: head(u, r[1:]) for u in uuids if (r := found.get(u)) is not None}

    def list_episodes(
        self, user_id: str, *, thread_id: str | None = None, source: str | None = None,
        status: str | None = None, since: datetime | None = None, until: datetime | None = None,
        limit: int = 100, offset: int = 0, newest_first: bool = False,
    ) -> list[Episode]:
        where, params = ["user_id=%s"], [user_id]
        for col, val in (("thread_id", thread_id), ("source", source), ("status", status)):
            if val is not None:
                where.append(f"{col}=%s")
                params.append(getattr(val, "value", val))
        if since is not None:
            where.append("reference_time>=%s")
            params.append(since)  # type: ignore[arg-type]
        if until is not None:
            where.append("reference_time<%s")
            params.append(until)  # type: ignore[arg-type]
        order = "DESC" if newest_first else "ASC"
        rows = self._tuples(
            f"SELECT {_EPISODE_COLS} FROM episodes WHERE {' AND '.join(where)}"
            f" ORDER BY reference_time {order}, seq {order} LIMIT %s OFFSET %s", (*params, limit, offset))
        return [_episode(r) for r in rows]

    def adjacent_episodes(self, user_id: str, uuids: Sequence[str]) -> dict[str, list[Episode]]:
        """For each of the user's threaded episodes among ``uuids``: the episode just before it in its
        thread and the one just after (by reference time), in one round trip."""
        return self.adjacent_with_heads(user_id, uuids)[0]

    def adjacent_with_heads(self, user_id: str,
                            uuids: Sequence[str]) -> tuple[dict[str, list[Episode]], dict[str, EpisodeHead]]:
        """``adjacent_episodes``, and the heads of the episodes it returns (their ``seq`` read with them)."""
        if not uuids:
            return {}, {}
        cols = ", ".join(f"n.{c.strip()}" for c in _EPISODE_COLS.split(","))
        near = ("(SELECT {side} AS side, {cols}, e.seq FROM episodes e WHERE e.user_id = x.user_id"
                " AND e.thread_id = x.thread_id AND e.reference_time {op} x.reference_time"
                " ORDER BY e.reference_time {order}, e.seq {order} LIMIT 1)")
        both = " UNION ALL ".join(near.format(side=i, cols=_EPISODE_COLS, op=op, order=order)
                                  for i, (op, order) in enumerate((("<", "DESC"), (">", "ASC"))))
        rows = self._tuples(
            f"SELECT x.uuid AS anchor, {cols}, n.seq FROM unnest(%b::text[]) WITH ORDINALITY AS q(uuid, i)"
            " JOIN episodes x ON x.uuid = q.uuid AND x.user_id = %s AND x.thread_id IS NOT NULL"
            f" CROSS JOIN LATERAL ({both}) n ORDER BY q.i, n.side", (list(dict.fromkeys(uuids)), user_id))
        out: dict[str, list[Episode]] = {}
        heads: dict[str, EpisodeHead] = {}
        for r in rows:
            ep = _episode(r[1:13])
            out.setdefault(r[0], []).append(ep)
            heads[ep.uuid] = EpisodeHead(ep.uuid, ep.thread_id, ep.role, ep.name, ep.reference_time,
                                         len(ep.content), r[13])
        return out, heads

    def thread_openers(self, user_id: str, thread_ids: Sequence[str], n: int = 2) -> dict[str, list[str]]:
        ids = list(dict.fromkeys(thread_ids))
        if not ids or n < 1:
            return {}
        rows = self._tuples(
            "SELECT t.thread_id, e.uuid FROM unnest(%b::text[]) WITH ORDINALITY AS t(thread_id, i)"
            " CROSS JOIN LATERAL (SELECT uuid, reference_time, seq FROM episodes WHERE thread_id = t.thread_id"
            " AND user_id = %s ORDER BY reference_time, seq LIMIT %s) e ORDER BY t.i, e.reference_time, e.seq",
            (ids, user_id, n))
        out: dict[str, list[str]] = {}
        for tid, uid in rows:
            out.setdefault(tid, []).append(uid)
        return out

    def thread_messages(self, thread_id: str, *, last: int | None = None) -> list[Episode]:
        """A thread's message episodes in the order they were added (the last ``last`` if given)."""
        if last is None:
            rows = self._tuples(f"SELECT {_EPISODE_COLS} FROM episodes WHERE thread_id=%s AND source='message'"
                                " ORDER BY seq", (thread_id,))
        else:
            rows = self._tuples(
                f"SELECT {_EPISODE_COLS} FROM (SELECT seq, {_EPISODE_COLS} FROM episodes WHERE thread_id=%s"
                " AND source='message' ORDER BY seq DESC LIMIT %s) t ORDER BY seq", (thread_id, last))
        return [_episode(r) for r in rows]

    def pending_episodes(self, user_id: str, limit: int = 256) -> list[Episode]:
        rows = self._tuples(f"SELECT {_EPISODE_COLS} FROM episodes WHERE user_id=%s AND status='pending'"
                            " ORDER BY reference_time, seq LIMIT %s", (user_id, limit))
        return [_episode(r) for r in rows]

    def users_with_pending(self) -> list[str]:
        return [r["user_id"] for r in self._all("SELECT DISTINCT user_id FROM episodes WHERE status='pending'")]

    def set_episode_status(self, user_id: str, uuid: str, status: EpisodeStatus, error: str | None = None) -> None:
        self._x("UPDATE episodes SET status=%s, error=%s, attempts=attempts+1 WHERE user_id=%s AND uuid=%s",
                (getattr(status, "value", status), error, user_id, uuid))

    def count_episodes(self, user_id: str, status: str | None = None) -> int:
        if status is None:
            return int(self._scalar("SELECT count(*) FROM episodes WHERE user_id=%s", (user_id,)))
        return int(self._scalar("SELECT count(*) FROM episodes WHERE user_id=%s AND status=%s",
                                (user_id, getattr(status, "value", status))))

    def delete_episode(self, user_id: str, uuid: str) -> list[str]:
        """Remove an episode, its links and vector, and the facts only it stated; returns those facts' ids."""
        with self._group():
            if self._one("SELECT 1 FROM episodes WHERE user_id=%s AND uuid=%s FOR UPDATE", (user_id, uuid)) is None:
                return []
            orphans = [r["fact_uuid"] for r in self._all(
                "SELECT fe.fact_uuid FROM fact_episodes fe WHERE fe.user_id=%s AND fe.episode_uuid=%s AND NOT EXISTS"
                " (SELECT 1 FROM fact_episodes o WHERE o.fact_uuid=fe.fact_uuid AND o.episode_uuid<>%s)",
                (user_id, uuid, uuid))]
            if orphans:
                self._x("DELETE FROM vector_tasks WHERE kind='fact' AND uuid = ANY(%b)", (orphans,))
                self._x("DELETE FROM facts WHERE user_id=%s AND uuid = ANY(%b)", (user_id, orphans))
            self._x("DELETE FROM fact_episodes WHERE user_id=%s AND episode_uuid=%s", (user_id, uuid))
            self._x("DELETE FROM mentions WHERE user_id=%s AND episode_uuid=%s", (user_id, uuid))
            self._x("DELETE FROM vector_tasks WHERE kind='episode' AND uuid=%s", (uuid,))
            self._x("DELETE FROM episodes WHERE user_id=%s AND uuid=%s", (user_id, uuid))
            return orphans

    # -- model-call accounting ------------------------------------------------------------------
    def record_llm_call(self, *, purpose: str, model: str, prompt_tokens: int, completion_tokens: int,
                        latency_ms: float, ok: bool, error: str | None, attempt: int,
                        episodes: Sequence[str], created_at: datetime) -> None:
        """Store one model call; its tokens are shared evenly among the episodes it served."""
        unique = list(dict.fromkeys(episodes))
        with self._group():
            user = self._scalar("SELECT user_id FROM episodes WHERE uuid=%s", (unique[0],)) if unique else None
            call_id = self._scalar(
                "INSERT INTO llm_calls (user_id, purpose, model, prompt_tokens, completion_tokens, latency_ms, ok,"
                " error, attempt, created_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
                (user, purpose, model, prompt_tokens, completion_tokens, latency_ms, ok, error, attempt, created_at))
            self._many("INSERT INTO llm_call_episodes VALUES (%s,%s,%s) ON CONFLICT DO NOTHING",
                       [(call_id, ep, 1 / len(unique)) for ep in unique])

    def llm_usage(self, user_id: str, episode_uuid: str | None = None) -> dict[str, Any]:
        """Summed calls, tokens and latency of a user's model calls (or an episode's share of them)."""
        params: tuple[str, ...]
        if episode_uuid is None:
            source, share, where, params = "llm_calls c", "1", "c.user_id=%s", (user_id,)
        else:
            source = "llm_call_episodes e JOIN llm_calls c ON c.id=e.call_id"
            share, where, params = "e.share", "e.episode_uuid=%s AND c.user_id=%s", (episode_uuid, user_id)
        row = self._one(
            f"SELECT COALESCE(SUM({share}),0) AS calls, COALESCE(SUM(c.prompt_tokens*{share}),0) AS prompt_tokens,"
            f" COALESCE(SUM(c.completion_tokens*{share}),0) AS completion_tokens,"
            f" COALESCE(SUM(c.latency_ms*{share}),0) AS latency_ms,"
            f" COALESCE(SUM(CASE WHEN c.ok THEN 0 ELSE 1 END*{share}),0) AS failed_calls"
            f" FROM {source} WHERE {where}", params)
        assert row is not None  # an aggregate always returns a row
        out: dict[str, Any] = {k: float(v) for k, v in row.items()}
        rows = self._all(f"SELECT c.purpose AS purpose, SUM({share}) AS n FROM {source} WHERE {where}"
                         " GROUP BY c.purpose ORDER BY c.purpose", params)
        out["calls_by_purpose"] = {r["purpose"]: float(r["n"]) for r in rows}
        return out

    # -- templates ------------------------------------------------------------------------------
    def save_template(self, template: ContextTemplate) -> None:
        self._x("INSERT INTO templates VALUES (%s,%s,%s,%s,%s) ON CONFLICT (template_id) DO UPDATE SET"
                " template=excluded.template, version=excluded.version, updated_at=excluded.updated_at",
                (template.template_id, template.template, template.version, template.created_at, template.updated_at))

    def get_template(self, template_id: str) -> ContextTemplate | None:
        row = self._one("SELECT * FROM templates WHERE template_id=%s", (template_id,))
        return _template(row) if row else None

    def list_templates(self) -> list[ContextTemplate]:
        return [_template(r) for r in self._all("SELECT * FROM templates ORDER BY template_id")]

    def delete_template(self, template_id: str) -> None:
        self._x("DELETE FROM templates WHERE template_id=%s", (template_id,))
