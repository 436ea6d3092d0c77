"""Full text (PostgreSQL text search), vectors (pgvector) and the vector outbox.

Full text: each searchable table has a generated ``tsvector`` (English stemming) with a GIN
index (episodes': the narrow ``episode_text``, kept in step by a trigger); a query is the OR of its
content words, ranked with ``ts_rank`` (a user with few records: through their own rows, see
``search_text``). Vectors: one table per kind whose rows reference their record (deleting a record
deletes its vector). A user with few vectors of a kind is searched exactly (their rows by the
``user_id`` index, sorted by cosine distance); above ``exact_limit(kind)``, when the user also holds a fair
share of the table, the HNSW index is used with pgvector's iterative filtered scan (a small user in a
big table stays exact: a filtered graph walk would visit mostly other users' vectors). The HNSW index
of a kind is built (concurrently, in the background) the first time a user needs it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import numpy as np
import psycopg

from ...errors import DimensionMismatchError, InvalidInputError, StorageError
from ...text import content_words
from ..base import KINDS, EpisodeHead, Kind, ReconcileReport, VectorTask
from .adapt import Vector
from .connection import PgConnection
from .records import HEAD_COLS, head
from .schema import lock_key

__all__ = ["EXACT_LIMIT", "EXACT_LIMITS", "SearchMixin", "exact_limit", "tsquery"]

log = logging.getLogger(__name__)

TABLES: dict[str, str] = {"episode": "episodes", "fact": "facts", "entity": "entities", "observation": "observations"}
# where each kind's full text lives (episodes': a narrow table of its own, see schema migration 2)
TEXT_TABLES: dict[str, str] = {**TABLES, "episode": "episode_text"}
# Above this many vectors of one kind for one user, and at least HNSW_SHARE of the kind's table,
# search walks the HNSW graph instead of scanning the user's rows exactly (an exact scan cost
# ~3 us a 384-d row here; the filtered graph walk ~10 ms at 10k rows).
EXACT_LIMIT = 5_000
# Entities are searched for a handful of hits (a block shows ~10: a walk of ef_search 40), and a memory
# holds ~0.4 a message: at 4.2k entities the walk cost 0.5 ms of server time against the scan's 2.5 (the
# same ten found 0.975 of the time), and each entity vector written then costs ~1.5 ms more to insert.
EXACT_LIMITS: dict[str, int] = {"entity": 2_000}
HNSW_SHARE = 0.05
# Up to this many records of a kind, and under HNSW_SHARE of the table, a user's full-text search tests
# their own rows (~1.7 us a row) instead of collecting every user's matches from the GIN index.
TEXT_SCAN_LIMIT = 1_000
# pgvector's ef_search bounds (its default, 40, is the floor: a smaller k walks as far)
HNSW_EF_MIN, HNSW_EF_MAX = 40, 1000
_COUNT_TTL = 30.0  # seconds a per-(user, kind) vector count is trusted for choosing the search path

def tsquery(text: str, max_terms: int = 32) -> str | None:
    """A ``to_tsquery`` OR-query of the distinct content words of ``text`` (letters and digits only,
    so no query syntax gets through); None when none are left."""
    words = content_words(text, max_terms)
    return " | ".join(words) if words else None


# the head of hit ``h``, by the primary key (LIMIT: looked up per hit; joined, the planner would hash all the
# user's episodes for a few hundred hits)
_HEAD_OF = f"SELECT {HEAD_COLS} FROM episodes e WHERE e.uuid = h.uuid AND e.user_id = %s LIMIT 1"


def exact_limit(kind: str) -> int:
    """The most vectors of ``kind`` one user's search scans exactly (see ``EXACT_LIMIT``)."""
    return EXACT_LIMITS.get(kind, EXACT_LIMIT)


def _kind(kind: str) -> str:
    if kind not in TABLES:
        raise InvalidInputError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind




class SearchMixin(PgConnection):
    """Text and vector search of one user's records, and the outbox that keeps vectors in step."""

    _dim: int | None = None
    _counts: dict[tuple[str, str], tuple[float, int]]
    _hnsw_valid: set[str]
    _hnsw_building: set[str]
    _counts_lock = threading.Lock()

    # -- full text ------------------------------------------------------------------------------
    def search_text(self, user_id: str, kind: Kind, query: str, limit: int = 20) -> list[tuple[str, float]]:
        """Ranked full-text hits of one kind of one user's records: (uuid, score), best first.

        A user with few records of the kind who is also a small share of the table is searched through
        their own rows (the ``user_id`` index, each row's ``tsvector`` tested): the GIN index would first
        collect every user's matches (at 1,000 users x 100 episodes, 13x the server time). Otherwise
        the GIN index finds the matches. Both give the same rows and scores."""
        found = self._text_sql(user_id, kind, query, limit)
        if found is None:
            return []
        return [(uuid, float(score)) for uuid, score in self._tuples(*found)]

    def search_episode_text(self, user_id: str, query: str, limit: int = 20, *, among: Sequence[str] = (),
                            ) -> tuple[list[tuple[str, float]], dict[str, EpisodeHead]]:
        """``search_text`` over episodes, with the heads of the episodes found, in the same statement."""
        found = self._text_sql(user_id, "episode", query, limit, among)
        if found is None:
            return [], {}
        sql, params = found
        rows = self._tuples(f"SELECT h.uuid, h.score, e.* FROM ({sql}) h CROSS JOIN LATERAL ({_HEAD_OF})"
                            " e ORDER BY h.score DESC, h.uuid", (*params, user_id))
        return [(r[0], float(r[1])) for r in rows], {r[0]: head(r[0], r[2:]) for r in rows}

    def _text_sql(self, user_id: str, kind: Kind, query: str, limit: int,
                  among: Sequence[str] = ()) -> tuple[str, tuple[object, ...]] | None:
        """The full-text search's statement and parameters (None: nothing to search for); ``among``: only
        records with one of these words, ranked by them and the query's words together."""
        table = TEXT_TABLES[_kind(kind)]
        words = tsquery(query)
        if words is None or limit <= 0:
            return None
        names = tsquery(" ".join(among)) if among else None
        if names is not None:
            # the words' rank plus the names' rank, as SQLite's bm25 adds up over (names) AND (words):
            # ts_rank of one query over both would divide by the number of terms, and a turn with the
            # name would score no higher than one without it in the words' own search
            return (f"SELECT t.uuid, ts_rank(t.tsv, q) + ts_rank(t.tsv, n) AS score FROM {table} t,"
                    " to_tsquery('english', %s) q, to_tsquery('english', %s) n WHERE t.user_id=%s"
                    " AND t.tsv @@ n AND t.tsv @@ q ORDER BY score DESC, t.uuid LIMIT %s",
                    (words, names, user_id, limit))
        if self._few(user_id, kind, TEXT_SCAN_LIMIT):
            return (f"SELECT t.uuid, ts_rank(t.tsv, q) AS score FROM (SELECT uuid, tsv FROM {table} WHERE user_id=%s"
                    " OFFSET 0) t, to_tsquery('english', %s) q WHERE t.tsv @@ q ORDER BY score DESC, t.uuid LIMIT %s",
                    (user_id, words, limit))
        return (f"SELECT t.uuid, ts_rank(t.tsv, q) AS score FROM {table} t, to_tsquery('english', %s) q"
                " WHERE t.user_id=%s AND t.tsv @@ q ORDER BY score DESC, t.uuid LIMIT %s", (words, user_id, limit))

    def _few(self, user_id: str, kind: Kind, limit: int) -> bool:
        """True when the user holds at most ``limit`` records of the kind and under HNSW_SHARE of its
        table (counted by their vectors, recounted every ``_COUNT_TTL`` seconds)."""
        mine = self._recent_count(user_id, kind)
        return mine <= limit and mine < HNSW_SHARE * float(self._table_rows(kind))

    # -- vectors --------------------------------------------------------------------------------
    def _dimension(self) -> int | None:
        if self._dim is None:
            found = self.get_meta("vector_dimensions")
            self._dim = int(found) if found else None
        return self._dim

    def _ensure_dimension(self, dim: int) -> None:
        """Fix the vector dimension at the first write (first writer wins, no DDL: processes opening a new
        memory together never wait on each other's locks); refuse any other dimension after."""
        known = self._dimension()
        if known is None:
            self._x("INSERT INTO meta VALUES ('vector_dimensions', %s) ON CONFLICT (key) DO NOTHING", (str(int(dim)),))
            found = self._scalar("SELECT value FROM meta WHERE key='vector_dimensions'")  # a new snapshot: the winner
            known = self._dim = int(found)
        if dim != known:
            raise DimensionMismatchError(
                f"vectors of dimension {dim} given, but this memory's vectors have dimension {known}; "
                "use the embedder it was built with, or a new database schema")

    def _matrix(self, vectors: np.ndarray, rows: int | None = None) -> np.ndarray:
        arr = np.asarray(vectors, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or (rows is not None and arr.shape[0] != rows):
            raise InvalidInputError(f"expected {rows if rows is not None else 'n'} vectors as rows of a 2-D array, "
                                    f"got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise InvalidInputError("vectors contain NaN or infinite values")
        return arr

    def count_vectors(self, user_id: str, kind: Kind) -> int:
        n = int(self._scalar(f"SELECT count(*) FROM vectors_{_kind(kind)} WHERE user_id=%s", (user_id,)))
        with self._counts_lock:
            self._counts[(user_id, kind)] = (time.monotonic(), n)
        return n

    def _recent_count(self, user_id: str, kind: Kind) -> int:
        with self._counts_lock:
            seen = self._counts.get((user_id, kind))
        if seen is not None and time.monotonic() - seen[0] < _COUNT_TTL:
            return seen[1]
        return self.count_vectors(user_id, kind)

    def _use_hnsw(self, user_id: str, kind: Kind) -> bool:
        mine = self._recent_count(user_id, kind)
        if mine <= exact_limit(kind):
            return False
        return bool(mine >= HNSW_SHARE * float(self._table_rows(kind))) and self._hnsw_ready(kind)

    def _table_rows(self, kind: Kind) -> int:
        """The planner's row estimate of the kind's vector table, trusted for ``_COUNT_TTL`` seconds."""
        key = ("", f"table:{kind}")
        with self._counts_lock:
            seen = self._counts.get(key)
        if seen is not None and time.monotonic() - seen[0] < _COUNT_TTL:
            return seen[1]
        total = int(self._scalar("SELECT GREATEST(reltuples, 1)::bigint FROM pg_class WHERE oid = %s::regclass",
                                 (f"vectors_{kind}",)) or 1)
        with self._counts_lock:
            self._counts[key] = (time.monotonic(), total)
        return total

    # -- the HNSW indexes ---------------------------------------------------------------------------
    def _hnsw_ready(self, kind: Kind) -> bool:
        """True once the kind's HNSW index is built and valid; else starts building it in the background
        (searches stay exact meanwhile)."""
        if kind in self._hnsw_valid:
            return True
        if self._hnsw_state(kind) == "valid":
            self._hnsw_valid.add(kind)
            return True
        with self._counts_lock:
            if kind in self._hnsw_building:
                return False
            self._hnsw_building.add(kind)
        threading.Thread(target=self._build_quietly, args=(kind,), name=f"agent-memory-hnsw-{kind}",
                         daemon=True).start()
        return False

    def _hnsw_state(self, kind: Kind) -> str:
        row = self._one("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                        " WHERE c.relname = %s AND c.relnamespace = %s::regnamespace",
                        (f"vectors_{kind}_hnsw", self.schema))
        return "missing" if row is None else ("valid" if row["indisvalid"] else "invalid")

    def build_vector_index(self, kind: Kind) -> bool:
        """Build the kind's HNSW index (cosine) without blocking writers (CREATE INDEX CONCURRENTLY);
        one process builds it, others return False at once. Indexes are built when a user first holds
        more than ``exact_limit(kind)`` vectors of a kind (inserting into an HNSW graph cost ~3.6 ms of server
        CPU a 384-d vector here, against ~0.2 ms without it: small memories do not pay for it)."""
        _kind(kind)
        dim = self._dimension()
        if dim is None:  # no vector yet: nothing to index
            return False
        key = lock_key("agent-memory-hnsw", self.schema, kind)
        with self._borrow() as conn, self._translate():  # autocommit: CONCURRENTLY needs no transaction
            row = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (key,)).fetchone()
            if not row or not row["got"]:
                return False
            try:
                state = self._hnsw_state(kind)
                if state == "invalid":  # a build that died half-way
                    conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS vectors_{kind}_hnsw")  # type: ignore[arg-type]
                if state != "valid":
                    conn.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS vectors_{kind}_hnsw"  # type: ignore[arg-type]
                                 f" ON vectors_{kind} USING hnsw ((embedding::vector({dim})) vector_cosine_ops)"
                                 " WITH (m = 16, ef_construction = 32)")
                    conn.execute(f"ANALYZE vectors_{kind}")  # type: ignore[arg-type]  # so the planner weighs it
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return True

    def _build_quietly(self, kind: Kind) -> None:
        try:
            self.build_vector_index(kind)
        except Exception:  # noqa: BLE001 - searches stay exact; the next search retries
            log.warning("building the HNSW index of %s vectors failed", kind, exc_info=True)
        finally:
            with self._counts_lock:
                self._hnsw_building.discard(kind)

    def search_vectors(self, user_id: str, kind: Kind, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """For each row of ``vectors``, the user's ``k`` nearest records of this kind (uuid, cosine), best first."""
        _kind(kind)
        arr = self._matrix(vectors)
        if k <= 0 or arr.shape[0] == 0:
            return [[] for _ in range(arr.shape[0])]
        known = self._dimension()
        if known is None:  # nothing was ever stored
            return [[] for _ in range(arr.shape[0])]
        if arr.shape[1] != known:
            raise DimensionMismatchError(f"query vectors have dimension {arr.shape[1]}, but this memory's vectors "
                                         f"have dimension {known}; use the embedder it was built with")
        vecs = f"%b::vector({known})[]"  # the query vectors are cast once, not per row
        params: tuple[object, ...] = ([Vector(r) for r in arr], user_id, k)
        if not self._use_hnsw(user_id, kind):  # exact: the user's rows, sorted (no index walk)
            inner = (f"SELECT uuid, d FROM (SELECT uuid, embedding <=> q.vec AS d"
                     f" FROM vectors_{kind} WHERE user_id=%s OFFSET 0) s ORDER BY d, uuid LIMIT %s")
        else:  # the HNSW index, filtered to the user by pgvector's iterative scan
            inner = (f"SELECT uuid, embedding <=> q.vec AS d FROM vectors_{kind}"
                     f" WHERE user_id=%s ORDER BY embedding::vector({known}) <=> q.vec LIMIT %s")
            # the walk keeps ef_search candidates: at least k of them (set for this statement only, before
            # the walk starts: the vectors it needs come out of this expression). With the default 40 and an
            # iterative scan for k = 160, recall@160 was 0.85 at 4.5 ms a vector; with ef_search = k, 0.92
            # at 3.5 ms (10k episodes, 100 dev questions)
            vecs = f"CASE WHEN set_config('hnsw.ef_search', %s, true) IS NOT NULL THEN {vecs} END"
            params = (str(min(max(k, HNSW_EF_MIN), HNSW_EF_MAX)), *params)
        rows = self._tuples(
            f"SELECT q.i, v.uuid, 1 - v.d AS score FROM unnest({vecs}) WITH ORDINALITY AS q(vec, i)"
            f" CROSS JOIN LATERAL ({inner}) v ORDER BY q.i, v.d, v.uuid", params)
        out: list[list[tuple[str, float]]] = [[] for _ in range(arr.shape[0])]
        for i, uuid, score in rows:
            out[int(i) - 1].append((uuid, float(score)))
        return out

    # -- the outbox -----------------------------------------------------------------------------
    def vector_tasks(self, limit: int = 256, *, user_id: str | None = None) -> list[VectorTask]:
        """Records owed a vector, oldest first."""
        if user_id is None:
            rows = self._all("SELECT user_id, kind, uuid, id FROM vector_tasks ORDER BY id LIMIT %s", (limit,))
        else:
            rows = self._all("SELECT user_id, kind, uuid, id FROM vector_tasks WHERE user_id=%s ORDER BY id LIMIT %s",
                             (user_id, limit))
        return [VectorTask(user_id=r["user_id"], kind=r["kind"], uuid=r["uuid"], seq=int(r["id"])) for r in rows]

    def write_vectors(self, user_id: str, kind: Kind, uuids: Sequence[str], vectors: np.ndarray, *,
                      queued_before: int | None = None) -> None:
        """Upsert vectors of the user's records (deleted or foreign ids are skipped) and settle their tasks
        (only those with ``seq <= queued_before`` when given), in one transaction."""
        table = TABLES[_kind(kind)]
        ids = list(uuids)
        if not ids:
            return
        arr = self._matrix(vectors, rows=len(ids))
        self._ensure_dimension(int(arr.shape[1]))
        rows = [Vector(r) for r in arr]
        for attempt in (1, 2):
            try:
                with self.atomic():
                    self._x(
                        f"INSERT INTO vectors_{kind} (uuid, user_id, embedding)"
                        " SELECT DISTINCT ON (t.uuid) t.uuid, r.user_id, t.v"
                        " FROM unnest(%b::text[], %b::vector[])"
                        f" WITH ORDINALITY AS t(uuid, v, i) JOIN {table} r ON r.uuid = t.uuid AND r.user_id = %s"
                        " ORDER BY t.uuid, t.i DESC"
                        " ON CONFLICT (uuid) DO UPDATE SET embedding = excluded.embedding", (ids, rows, user_id))
                    # settle the tasks; one locked by another transaction is skipped, not waited for: it is
                    # being queued again (a newer text: it must stay) or settled by another writer, and
                    # waiting on it while holding these vectors could deadlock with that transaction
                    self._x("DELETE FROM vector_tasks WHERE ctid IN (SELECT ctid FROM vector_tasks"
                            " WHERE kind=%s AND user_id=%s AND uuid = ANY(%b)"
                            " AND (%s::bigint IS NULL OR id <= %s::bigint) FOR UPDATE SKIP LOCKED)",
                            (kind, user_id, ids, queued_before, queued_before))
                return
            except InvalidInputError as exc:  # a record deleted meanwhile by another process: skip it, once
                if attempt == 2 or not isinstance(exc.__cause__, psycopg.errors.ForeignKeyViolation):
                    raise
            except StorageError as exc:  # chosen as a deadlock victim: the other side has committed, retry once
                if attempt == 2 or not isinstance(exc.__cause__, psycopg.errors.DeadlockDetected):
                    raise

    def reconcile(self, *, if_unclean: bool = False) -> ReconcileReport:
        """Queue vectors for records that have neither a vector nor a task; remove vectors and tasks of
        records that are gone. Always compares (``if_unclean`` changes nothing: the database is shared)."""
        report = ReconcileReport()
        # statement by statement (each its own transaction unless the caller has one): every process
        # runs this when it opens, next to running ingestion; short transactions keep it out of their way
        for kind in KINDS:
            table = TABLES[kind]
            queued = self._all(
                f"INSERT INTO vector_tasks (user_id, kind, uuid) SELECT r.user_id, %s, r.uuid FROM {table} r"
                f" WHERE NOT EXISTS (SELECT 1 FROM vectors_{kind} v WHERE v.uuid = r.uuid)"
                " ON CONFLICT (kind, uuid) DO NOTHING RETURNING 1", (kind,))
            removed = self._all(
                f"DELETE FROM vectors_{kind} v WHERE NOT EXISTS"
                f" (SELECT 1 FROM {table} r WHERE r.uuid = v.uuid AND r.user_id = v.user_id) RETURNING 1")
            self._x(f"DELETE FROM vector_tasks WHERE ctid IN (SELECT t.ctid FROM vector_tasks t WHERE t.kind=%s"
                    f" AND NOT EXISTS (SELECT 1 FROM {table} r WHERE r.uuid = t.uuid AND r.user_id = t.user_id)"
                    " FOR UPDATE SKIP LOCKED)", (kind,))
            report.queued[kind] = len(queued)
            report.removed[kind] = len(removed)
        return report
