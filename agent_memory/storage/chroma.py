"""VectorIndex over Chroma: one cosine collection per (user, kind), holding only ids and vectors.

Collections are created with ``embedding_function=None`` (Chroma's default one downloads a model)
and never receive documents or metadata, so no text and no clear user id reaches Chroma; names
come from ``collection_name`` (a hash of the user id). Telemetry is switched off.

Embedded on disk, ``chroma_files.ChromaFiles`` removes what Chroma itself leaves of a deleted
collection (its segment directory, freed pages of ``chroma.sqlite3``) and zeroes the heap residue
hnswlib writes into new index files; writes to Chroma and those scrubs share one lock. A Chroma
server keeps its files to itself (docs/storage.md says what it keeps).

Measured on a 2-core dev machine (chromadb 1.5.9, 384-d vectors, one collection): upserting
1,000 vectors takes ~120 ms embedded (memory or disk) and ~160 ms over HTTP to a local server; a
k=20 query takes ~1.6-2.0 ms p50 embedded and ~4.3 ms over HTTP (ExactIndex: 1 ms and 0.06 ms).
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agent_memory.errors import (
    ClosedError,
    ConfigError,
    DimensionMismatchError,
    MissingDependencyError,
    StorageError,
)
from agent_memory.storage.chroma_files import ChromaFiles
from agent_memory.storage.chroma_files import persist_dir as _persist_dir
from agent_memory.storage.inmemory import (
    check_kind,
    dimension_error,
    prepare_ids,
    prepare_queries,
    prepare_query,
    prepare_upsert,
)
from agent_memory.storage.vectors import KINDS, Kind, collection_name

__all__ = ["ChromaIndex"]

# chromadb may import onnxruntime, which reads this at its first import.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

_DIM_MESSAGE = re.compile(r"dimension of (\d+), got (\d+)")


def _chromadb() -> Any:
    """Import chromadb or raise MissingDependencyError."""
    try:
        import chromadb
    except ImportError as exc:
        raise MissingDependencyError("ChromaIndex needs chromadb: pip install 'chromadb>=1,<2'") from exc
    return chromadb


def _settings() -> Any:
    """Chroma settings with anonymized telemetry off."""
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


def _is_not_found(exc: BaseException) -> bool:
    """True for Chroma's 'collection does not exist' error."""
    from chromadb.errors import NotFoundError

    return isinstance(exc, NotFoundError)


def _storage_error(exc: Exception, action: str) -> StorageError | DimensionMismatchError:
    """Translate a Chroma failure, turning dimension complaints into DimensionMismatchError."""
    match = _DIM_MESSAGE.search(str(exc))
    if match:
        return dimension_error(int(match.group(1)), int(match.group(2)), "Chroma")
    return StorageError(f"Chroma failed to {action}: {type(exc).__name__}: {exc}")


class ChromaIndex:
    """Nearest-neighbour search in Chroma (embedded, on disk or over HTTP); thread-safe.

    ``dimensions``, if given, is enforced on every call; otherwise each collection keeps the
    dimension of its first upsert. ``prefix`` starts every collection name.
    """

    def __init__(
        self,
        client: Any,
        *,
        dimensions: int | None = None,
        prefix: str = "am",
        owns_client: bool = False,
        drop_on_close: bool = False,
    ) -> None:
        """Wrap a chromadb client; ``owns_client`` closes it on ``close()``."""
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_-]{0,15}", prefix):
            raise ConfigError(f"prefix must be 1-16 characters of [a-zA-Z0-9_-], got {prefix!r}")
        self._client = client
        self.dimensions = dimensions
        self.prefix = prefix
        self._owns_client = owns_client
        self._drop_on_close = drop_on_close
        self._collections: dict[str, Any] = {}
        self._dims: dict[str, int] = {}
        self._lock = threading.RLock()
        self._write = threading.Lock()  # Chroma writes and the scrubs of the files they wrote
        self._closed = False
        root = _persist_dir(client)
        self._files = ChromaFiles(root) if root is not None else None

    @classmethod
    def _open(cls, factory: str, action: str, /, index_kw: dict[str, Any], **client_kw: Any) -> ChromaIndex:
        """Create a chromadb client with telemetry off and wrap it (the index owns it)."""
        chromadb = _chromadb()
        try:
            client = getattr(chromadb, factory)(settings=_settings(), **client_kw)
        except Exception as exc:
            raise _storage_error(exc, action) from exc
        return cls(client, owns_client=True, **index_kw)

    @classmethod
    def persistent(cls, path: str | os.PathLike[str], *, dimensions: int | None = None) -> ChromaIndex:
        """An embedded Chroma storing its files under ``path``."""
        path = os.fspath(Path(path).resolve())
        return cls._open("PersistentClient", f"open {path!r}", {"dimensions": dimensions}, path=path)

    @classmethod
    def http(
        cls,
        host: str = "localhost",
        port: int = 8000,
        ssl: bool = False,
        headers: dict[str, str] | None = None,
        *,
        dimensions: int | None = None,
    ) -> ChromaIndex:
        """A client of a Chroma server (``chroma run``); connects now."""
        where = f"connect to {host}:{port}"
        kw = {"host": host, "port": port, "ssl": ssl, "headers": headers}
        return cls._open("HttpClient", where, {"dimensions": dimensions}, **kw)

    @classmethod
    def ephemeral(cls, *, dimensions: int | None = None) -> ChromaIndex:
        """An in-memory Chroma; each instance is isolated (own name prefix) and dropped on close."""
        index_kw = {"dimensions": dimensions, "prefix": "e" + uuid.uuid4().hex[:12], "drop_on_close": True}
        return cls._open("EphemeralClient", "start an in-memory Chroma", index_kw)

    @property
    def persist_dir(self) -> Path | None:
        """The directory of an embedded on-disk Chroma, else None."""
        return self._files.root if self._files is not None else None

    def __repr__(self) -> str:
        return f"ChromaIndex(prefix={self.prefix!r}, collections={len(self._collections)})"

    # -- collection handles ---------------------------------------------------------------

    def _collection(self, user_id: str, kind: str, create: bool) -> tuple[str, Any]:
        """(name, handle) of this user's collection; handle None if missing and not ``create``."""
        if self._closed:
            raise ClosedError("This ChromaIndex was closed")
        check_kind(kind)
        name = collection_name(user_id, kind, self.prefix)
        with self._lock:
            handle = self._collections.get(name)
            if handle is not None:
                return name, handle
            try:
                if create:
                    handle = self._client.get_or_create_collection(
                        name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
                    )
                else:
                    handle = self._client.get_collection(name, embedding_function=None)
            except Exception as exc:
                if not create and _is_not_found(exc):
                    return name, None
                raise _storage_error(exc, f"open collection {name}") from exc
            space = ((getattr(handle, "configuration", None) or {}).get("hnsw") or {}).get("space")
            if space not in (None, "cosine"):
                raise StorageError(f"Chroma collection {name} uses {space!r} distance, expected 'cosine'")
            dimension = getattr(getattr(handle, "_model", None), "dimension", None)
            if isinstance(dimension, int) and dimension > 0:
                self._dims[name] = dimension
            self._collections[name] = handle
            return name, handle

    def _forget(self, name: str) -> None:
        """Drop a cached handle (after the collection vanished or was deleted)."""
        with self._lock:
            self._collections.pop(name, None)
            self._dims.pop(name, None)

    def _expect(self, name: str, got: int) -> None:
        """Raise DimensionMismatchError if ``got`` disagrees with the configured or known dimension."""
        if self.dimensions is not None and got != self.dimensions:
            raise dimension_error(self.dimensions, got, "ChromaIndex")
        known = self._dims.get(name)
        if known is not None and got != known:
            raise dimension_error(known, got, f"Chroma collection {name}")

    def _existing(self, user_id: str, kind: str, action: str, missing: Any, fn: Any) -> Any:
        """Run ``fn(name, handle)`` on an existing collection; ``missing`` if there is none."""
        name, handle = self._collection(user_id, kind, create=False)
        if handle is None:
            return missing
        try:
            found = fn(name, handle)
            self._scrub_after_read(handle)
            return found
        except Exception as exc:
            if not _is_not_found(exc):
                raise _storage_error(exc, f"{action} {name}") from exc
            self._forget(name)  # deleted behind our back
            return missing

    # -- VectorIndex ----------------------------------------------------------------------

    def upsert(self, user_id: str, kind: Kind, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Insert or replace vectors (rows of ``vectors``) under ``ids``."""
        ids, matrix = prepare_upsert(ids, vectors)
        if not ids:
            return
        for attempt in (1, 2):
            name, handle = self._collection(user_id, kind, create=True)
            self._expect(name, matrix.shape[1])
            try:
                step = len(ids) if len(ids) <= 1000 else max(1, self._client.get_max_batch_size())
                with self._write:
                    for start in range(0, len(ids), step):
                        handle.upsert(ids=ids[start : start + step], embeddings=matrix[start : start + step])
                    self._scrub(handle)
            except Exception as exc:
                if attempt == 1 and _is_not_found(exc):  # deleted behind our back: recreate once
                    self._forget(name)
                    continue
                raise _storage_error(exc, f"upsert into {name}") from exc
            with self._lock:
                self._dims.setdefault(name, matrix.shape[1])
            return

    def query(self, user_id: str, kind: Kind, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ``k`` nearest ids with cosine similarity (1 - distance), best first; [] if none."""
        query = prepare_query(vector)
        self._expect(collection_name(user_id, kind, self.prefix), query.shape[0])

        def run(name: str, handle: Any) -> list[tuple[str, float]]:
            if k <= 0:
                return []
            # Chroma returns fewer than n_results (none for an empty collection) without complaint.
            found = handle.query(query_embeddings=query[None, :], n_results=int(k), include=["distances"])
            return [(i, 1.0 - float(d)) for i, d in zip(found["ids"][0], found["distances"][0], strict=True)]

        return self._existing(user_id, kind, "query", [], run)  # type: ignore[no-any-return]

    def query_many(self, user_id: str, kind: Kind, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """``query`` for each row of ``vectors`` in one round trip, in row order."""
        queries = prepare_queries(vectors)
        self._expect(collection_name(user_id, kind, self.prefix), queries.shape[1])
        empty: list[list[tuple[str, float]]] = [[] for _ in queries]
        if k <= 0 or not len(queries):
            return empty

        def run(name: str, handle: Any) -> list[list[tuple[str, float]]]:
            found = handle.query(query_embeddings=queries, n_results=int(k), include=["distances"])
            return [[(i, 1.0 - float(d)) for i, d in zip(ids, dists, strict=True)]
                    for ids, dists in zip(found["ids"], found["distances"], strict=True)]

        return self._existing(user_id, kind, "query", empty, run)  # type: ignore[no-any-return]

    def delete(self, user_id: str, kind: Kind, ids: Sequence[str]) -> None:
        """Remove these ids (missing ones are ignored)."""
        ids = list(dict.fromkeys(prepare_ids(ids)))
        if not ids:
            return

        def run(_: str, handle: Any) -> None:
            with self._write:
                handle.delete(ids=ids)
                self._scrub(handle)

        self._existing(user_id, kind, "delete from", None, run)

    def _scrub(self, handle: Any) -> None:
        """Zero the heap residue hnswlib may just have written into this collection's new files."""
        if self._files is not None:
            self._files.scrub_collection(str(handle.id))

    def _scrub_after_read(self, handle: Any) -> None:
        """A read can make Chroma load, so rebuild, an index it never persisted: scrub what that wrote."""
        if self._files is not None and self._files.changed(str(handle.id)):
            with self._write:
                self._files.scrub_collection(str(handle.id))

    def scrub_files(self) -> int:
        """Zero the unused capacity of every HNSW file on disk (after a crash); returns bytes cut."""
        if self._files is None:
            return 0
        with self._write:
            return self._files.scrub_all()

    def delete_user(self, user_id: str) -> None:
        """Delete this user's collections of every kind (no error if there are none).

        Embedded on disk, the collections' segment directories go too, and ``chroma.sqlite3`` is
        vacuumed: Chroma deletes the rows of its log and tables, but their bytes (ids, vectors)
        stay in freed pages until then.
        """
        if self._closed:
            raise ClosedError("This ChromaIndex was closed")
        self._drop([collection_name(user_id, kind, self.prefix) for kind in KINDS])

    def _drop(self, names: Sequence[str]) -> None:
        """Delete these collections and, embedded on disk, every byte of them."""
        with self._write:
            for name in names:
                collection_id = self._collection_id(name) if self._files is not None else None
                segments = self._files.segments(collection_id) if self._files and collection_id else []
                self._forget(name)
                try:
                    self._client.delete_collection(name)
                except Exception as exc:
                    if not _is_not_found(exc):
                        raise _storage_error(exc, f"delete collection {name}") from exc
                if self._files is not None and collection_id is not None:
                    self._files.remove(collection_id, segments)
            if self._files is not None and names:
                self._files.vacuum()

    def _collection_id(self, name: str) -> str | None:
        """Chroma's id of a collection, None if it does not exist."""
        handle = self._collections.get(name)
        if handle is None:
            try:
                handle = self._client.get_collection(name, embedding_function=None)
            except Exception as exc:
                if _is_not_found(exc):
                    return None
                raise _storage_error(exc, f"open collection {name}") from exc
        return str(handle.id)

    def ids(self, user_id: str, kind: Kind) -> list[str]:
        """Every id this user has vectors for, of this kind."""

        def run(_: str, handle: Any) -> list[str]:
            out: list[str] = []
            while True:
                page = handle.get(include=[], limit=5000, offset=len(out))["ids"]
                out += page
                if len(page) < 5000:
                    return out

        return self._existing(user_id, kind, "list", [], run)  # type: ignore[no-any-return]

    def drop_users_except(self, user_ids: Callable[[], Collection[str]]) -> int:
        """Delete the collections of every user not in ``user_ids()`` (read after the listing, so a
        user created meanwhile by another process is kept); returns how many users were dropped."""
        if self._closed:
            raise ClosedError("This ChromaIndex was closed")
        try:
            names = [getattr(c, "name", c) for c in self._client.list_collections()]
        except Exception as exc:
            raise _storage_error(exc, "list collections") from exc
        keep = {collection_name(u, kind, self.prefix) for u in user_ids() for kind in KINDS}
        pattern = re.compile(rf"{re.escape(self.prefix)}_([0-9a-f]{{32}})_({'|'.join(KINDS)})")
        stale = [n for n in names if isinstance(n, str) and pattern.fullmatch(n) and n not in keep]
        self._drop(stale)
        return len({pattern.fullmatch(n).group(1) for n in stale})  # type: ignore[union-attr]

    def count(self, user_id: str, kind: Kind) -> int:
        """How many vectors this user has of this kind."""
        return int(self._existing(user_id, kind, "count", 0, lambda _, handle: handle.count()))

    def close(self) -> None:
        """Release the client (if this index created it); an ephemeral index also drops its data."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            names = list(self._collections)
            self._collections.clear()
            self._dims.clear()
        try:
            if self._drop_on_close:
                for name in names:
                    try:
                        self._client.delete_collection(name)
                    except Exception as exc:
                        if not _is_not_found(exc):
                            raise
            if self._owns_client:
                self._client.close()
        except Exception as exc:
            raise _storage_error(exc, "close the client") from exc
