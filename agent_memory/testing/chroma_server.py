"""Run a real Chroma server (``chroma run``) on 127.0.0.1 for integration tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from agent_memory.errors import MissingDependencyError, StorageError

__all__ = ["chroma_executable", "run_chroma_server"]


def chroma_executable() -> str:
    """The ``chroma`` console script: next to this Python first, then on PATH."""
    beside = Path(sys.executable).parent / ("chroma.exe" if os.name == "nt" else "chroma")
    if beside.is_file():
        return str(beside)
    found = shutil.which("chroma")
    if found is None:
        raise MissingDependencyError("The 'chroma' command was not found: pip install 'chromadb>=1,<2'")
    return found


def _free_port(host: str) -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _heartbeat(host: str, port: int) -> bool:
    """True once the server answers a heartbeat."""
    import chromadb
    from chromadb.config import Settings

    try:
        client = chromadb.HttpClient(host=host, port=port, settings=Settings(anonymized_telemetry=False))
    except Exception:
        return False
    try:
        client.heartbeat()
        return True
    except Exception:
        return False
    finally:
        close = getattr(client, "close", None)  # chromadb >= 1.1; frees the client's System
        if close is not None:
            close()


def _log_tail(log: IO[bytes], limit: int = 2000) -> str:
    """The end of the server's output, for error messages."""
    log.flush()
    log.seek(0)
    return log.read().decode("utf-8", "replace")[-limit:]


def _stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Terminate the server, killing it if it has not exited within ``grace`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)


@contextmanager
def run_chroma_server(
    path: str | os.PathLike[str], *, host: str = "127.0.0.1", port: int | None = None, timeout: float = 60.0
) -> Iterator[tuple[str, int]]:
    """Start ``chroma run --path DIR`` on a free port, yield ``(host, port)`` once it answers, stop it.

    Raises StorageError (with the server's output) if it exits early or is not ready in ``timeout`` s.
    """
    port = port or _free_port(host)
    command = [chroma_executable(), "run", "--path", os.fspath(path), "--host", host, "--port", str(port)]
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "ORT_DISABLE_TELEMETRY": "1"}
    with tempfile.NamedTemporaryFile(prefix="chroma-server-", suffix=".log") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        try:
            deadline = time.monotonic() + timeout
            while not _heartbeat(host, port):
                if process.poll() is not None:
                    raise StorageError(
                        f"chroma run exited with code {process.returncode}:\n{_log_tail(log)}", port=port
                    )
                if time.monotonic() > deadline:
                    message = f"chroma run did not answer on {host}:{port} within {timeout:.0f} s"
                    raise StorageError(f"{message}:\n{_log_tail(log)}", port=port)
                time.sleep(0.2)
            yield host, port
        finally:
            _stop(process)
