"""The test/benchmark PostgreSQL server stops when its run ends, even after an earlier run was killed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from agent_memory.testing.postgres_server import run_postgres_server

pytestmark = pytest.mark.slow  # starts PostgreSQL servers


def test_a_data_dir_left_by_a_killed_run_is_stopped_after_the_next_run() -> None:
    base = Path(tempfile.mkdtemp(prefix="agent-memory-pg-"))  # not tmp_path: the server's user must reach it
    pidfile = base / "pgdata" / "postmaster.pid"
    try:
        with run_postgres_server(base):
            pass
        assert not pidfile.exists()
        gone = subprocess.Popen(["true"])
        gone.wait()  # a process that held the server and died without letting go of it
        (base / "pgdata" / ".handle_pids.json").write_text(json.dumps([gone.pid]))
        with run_postgres_server(base) as url, psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert not pidfile.exists()  # stopped: the dead process no longer counts as a user of it
    finally:
        if pidfile.exists():  # a server left running: stop it rather than leak it
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGINT)
        shutil.rmtree(base, ignore_errors=True)
