"""The files of an embedded Chroma, and removing every byte of a deleted collection from them.

Three things keep bytes of deleted or foreign data on disk, and each is handled here:

- Chroma 1.x leaves a deleted collection's segment directory (chroma-core/chroma#5259):
  ``ChromaFiles.remove`` deletes it.
- Deleted rows of ``chroma.sqlite3`` (its log keeps ids and vectors) stay in freed pages:
  ``ChromaFiles.vacuum``.
- When Chroma creates a collection's HNSW index, hnswlib (chroma-core/hnswlib
  ``initPersistentIndex``) writes the whole ``malloc``'d capacity to ``data_level0.bin``
  (``max_elements * size_per_element`` bytes) and ``length.bin`` (``max_elements * 4``), though no
  element is set yet: the tail is whatever the process heap held before, e.g. a deleted user's record
  ids and vectors, found in another user's files (chroma-core/chroma#7688 reports it for
  ``length.bin``). Elements are zeroed before use and later persists write only elements, so the
  residue is exactly the tail past the element count in ``header.bin``. ``scrub_segment`` cuts it off
  and extends the file again: a hole that reads as zeros, with the size hnswlib expects, and no data
  written. Chroma creates index files again when it loads a collection whose index it never persisted
  (fewer than ``sync_threshold`` = 1,000 vectors: most collections), i.e. on a *read* in a new process,
  so the files are checked after every access (a few ``stat`` calls) and scrubbed when they changed.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sqlite3
import struct
import uuid
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

from agent_memory.errors import StorageError

__all__ = ["ChromaFiles", "scrub_segment", "used_lengths"]

log = logging.getLogger(__name__)

# hnswlib's HEADER_FIELDS: int version, then size_t offsetLevel0, max_elements,
# cur_element_count, size_data_per_element, ... written packed, in native byte order.
_HEADER = struct.Struct("=iQQQQ")
_VERSION = 1
_TAILS = ("data_level0.bin", "length.bin")

Stamp = tuple[tuple[int, int], ...]


def persist_dir(client: Any) -> Path | None:
    """The data directory of an embedded on-disk chromadb client, else None."""
    try:
        settings = client.get_settings()
    except AttributeError:  # not a chromadb client we know
        return None
    if not getattr(settings, "is_persistent", False) or "fastapi" in str(settings.chroma_api_impl).lower():
        return None
    directory = getattr(settings, "persist_directory", None)
    return Path(directory).resolve() if directory else None  # a relative home stays right if cwd changes


def used_lengths(segment: Path) -> dict[str, int] | None:
    """Bytes of ``data_level0.bin`` and ``length.bin`` that hold elements, per ``header.bin``;
    None if the segment has no index yet (or a header this code does not know: logged)."""
    try:
        raw = (segment / "header.bin").read_bytes()
    except FileNotFoundError:
        return None
    if len(raw) < _HEADER.size:
        return None
    version, _, max_elements, count, per_element = _HEADER.unpack_from(raw)
    if version != _VERSION or count > max_elements or not 0 < per_element < 1 << 24:
        log.warning("unknown HNSW header in %s (version %s): its unused capacity was not zeroed", segment, version)
        return None
    return {"data_level0.bin": count * per_element, "length.bin": count * 4}


def scrub_segment(segment: Path) -> int:
    """Zero what lies past the elements in a segment's HNSW files; returns how many bytes it cut.

    The caller keeps Chroma from writing this segment meanwhile.
    """
    used = used_lengths(segment)
    if used is None:
        return 0
    cut = 0
    for name in _TAILS:
        path = segment / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        if size > used[name]:
            os.truncate(path, used[name])  # drop the residue...
            os.truncate(path, size)  # ...and give the length back as a hole that reads as zeros
            cut += size - used[name]
    return cut


def _stamp(segment: Path) -> Stamp | None:
    """(size, mtime) of the files a scrub reads or changes (a changed stamp means Chroma wrote);
    None if the segment has no index files."""
    return _stamp_of(_paths(segment))


@functools.lru_cache(maxsize=1024)
def _paths(segment: Path) -> tuple[str, ...]:
    """The header's and the tails' paths as strings: every vector read stats them (no Path work then)."""
    return tuple(os.path.join(segment, name) for name in ("header.bin", *_TAILS))


def _stamp_of(paths: tuple[str, ...]) -> Stamp | None:
    try:
        header = os.stat(paths[0])
    except FileNotFoundError:
        return None
    out = [(header.st_size, header.st_mtime_ns)]
    for path in paths[1:]:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            out.append((-1, -1))
            continue
        out.append((st.st_size, st.st_mtime_ns))
    return tuple(out)


class ChromaFiles:
    """The on-disk side of one embedded Chroma directory (``root`` holds ``chroma.sqlite3``).

    Not thread-safe by itself: ``ChromaIndex`` calls it under its write lock, which also keeps
    Chroma from writing a segment while it is scrubbed.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._segments: dict[str, list[Path]] = {}  # collection id -> its segment directories
        self._scrubbed: dict[Path, Stamp] = {}

    def segments(self, collection_id: str) -> list[Path]:
        """The segment directories a collection has or will have (from Chroma's ``segments`` table)."""
        known = self._segments.get(collection_id)
        if known is not None:
            return known
        database = self.root / "chroma.sqlite3"
        if not database.is_file():
            return []
        try:
            with closing(sqlite3.connect(str(database), timeout=30)) as conn:
                rows = conn.execute("SELECT id FROM segments WHERE collection = ?", (collection_id,)).fetchall()
        except sqlite3.Error as exc:  # Chroma's private schema changed: say so, do not hide it
            raise StorageError(f"cannot list the segments of Chroma collection {collection_id}: {exc}") from exc
        found = []
        for (segment_id,) in rows:
            try:
                found.append(self.root / str(uuid.UUID(str(segment_id))))
            except ValueError:
                continue
        if found:
            self._segments[collection_id] = found
        return found

    def scrub(self, segments: Iterable[Path]) -> int:
        """Scrub each segment Chroma wrote since this object last scrubbed it; returns bytes cut."""
        cut = 0
        for segment in segments:
            stamp = _stamp(segment)
            if stamp is None or self._scrubbed.get(segment) == stamp:
                continue
            cut += scrub_segment(segment)
            after = _stamp(segment)
            if after is not None:
                self._scrubbed[segment] = after
        return cut

    def changed(self, collection_id: str) -> bool:
        """True if Chroma (re)wrote one of the collection's index files since they were last scrubbed."""
        for segment in self.segments(collection_id):
            stamp = _stamp(segment)
            if stamp is not None and self._scrubbed.get(segment) != stamp:
                return True
        return False

    def scrub_collection(self, collection_id: str) -> int:
        """Scrub a collection's segments (after a write to it)."""
        return self.scrub(self.segments(collection_id))

    def scrub_all(self) -> int:
        """Scrub every segment directory under the root (e.g. after a crash)."""
        entries = self.root.iterdir() if self.root.is_dir() else iter(())
        return self.scrub(e for e in entries if e.is_dir() and _is_uuid(e.name))

    def remove(self, collection_id: str, segments: Iterable[Path]) -> None:
        """Delete a deleted collection's segment directories (Chroma leaves them)."""
        for directory in segments:
            shutil.rmtree(directory, ignore_errors=True)
            self._scrubbed.pop(directory, None)
        self._segments.pop(collection_id, None)

    def vacuum(self) -> None:
        """Rewrite chroma.sqlite3 without its freed pages (they still hold deleted ids and vectors)."""
        path = self.root / "chroma.sqlite3"
        if not path.is_file():
            return
        try:
            with closing(sqlite3.connect(str(path), timeout=30)) as conn:
                conn.execute("VACUUM")
        except sqlite3.Error as exc:
            raise StorageError(f"could not vacuum {path} after deleting vectors: {exc}") from exc


def _is_uuid(name: str) -> bool:
    try:
        uuid.UUID(name)
    except ValueError:
        return False
    return True
