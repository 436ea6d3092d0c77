"""One owner per embedded memory home: an advisory file lock held for the store's life.

Embedded Chroma is single-process by its own design (two writers lose vectors and neither sees
the other's), so a home whose vectors live in it is owned by one process: the lock is exclusive,
and a second opener gets ``MemoryInUseError`` at once. When the vectors live on a Chroma server,
the home holds only SQLite (safe across processes under WAL), so openers share the lock; an
embedded opener still cannot join them. The lock is released when the store closes, or by the
operating system when the process dies (kill -9 included). Windows has no ``fcntl``: there the
lock is not taken, and one process per home is the user's to keep.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import MemoryInUseError, StorageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["HomeLock", "LOCK_NAME"]

LOCK_NAME = "owner.lock"

_SHARE_HINT = ("An embedded memory home has one owner process (embedded Chroma is single-process). To use one "
               "memory from several processes, keep the vectors on a Chroma server (AGENT_MEMORY_CHROMA_HOST, "
               "MemoryConfig(chroma_host=...)) or use the PostgreSQL backend (AGENT_MEMORY_DATABASE_URL); to read "
               "it meanwhile, go through the owning process, or stop it first.")


class HomeLock:
    """An flock on ``<home>/owner.lock``: exclusive for an embedded home, shared for a server-backed one."""

    def __init__(self, home: str | os.PathLike[str], *, shared: bool = False) -> None:
        self.path = Path(home) / LOCK_NAME
        self.shared = shared
        self._fd: int | None = None
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(f"cannot create the lock file {self.path}: {exc}") from exc
        if fcntl is None:
            return
        try:
            fcntl.flock(self._fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            mode = ("is open in embedded mode by another process" if shared
                    else "is already open in another process")
            raise MemoryInUseError(f"the memory home {Path(home).resolve()} {mode}. {_SHARE_HINT}") from None
        except OSError as exc:
            os.close(self._fd)
            self._fd = None
            raise StorageError(f"cannot lock {self.path}: {exc}") from exc

    def close(self) -> None:
        """Release the lock (closing the descriptor releases the flock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
