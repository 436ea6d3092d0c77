"""The command line a user types: demo, ingest, context, search, facts, users, delete-user."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_memory.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_recalls_old_threads_and_shows_a_closed_fact() -> None:
    out = _run("demo")
    assert "Octavia Butler" in out and "payment_failed" in out
    assert "changed facts, closed not deleted" in out and "Boston" in out


def test_ingest_then_query_every_command(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    rows = [
        {"user_id": "ann", "thread_id": "a1", "role": "user", "name": "Ann", "content": "I live in Lisbon.",
         "created_at": "2024-01-01T10:00:00Z"},
        {"user_id": "ann", "thread_id": "a1", "role": "user", "name": "Ann", "content": "I love jazz records.",
         "created_at": "2024-01-01T10:01:00Z"},
        {"user_id": "ann", "thread_id": "a2", "role": "user", "name": "Ann", "content": "I moved to Porto.",
         "created_at": "2024-05-01T10:00:00Z"},
    ]
    file = tmp_path / "in.jsonl"
    file.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert "ingested 3 messages" in _run("ingest", str(file), "--home", home)
    assert "ann" in _run("users", "--home", home)
    assert "Lisbon" in _run("context", "--user-id", "ann", "--query", "where does Ann live?", "--home", home)
    assert "Porto" in _run("context", "--thread-id", "a2", "--home", home)
    assert "jazz" in _run("search", "--user-id", "ann", "jazz music", "--scope", "episodes", "--home", home)
    then = _run("facts", "--user-id", "ann", "--as-of", "2024-02-01T00:00:00Z", "--home", home)
    assert "Lisbon" in then and "Porto" not in then
    _run("delete-user", "ann", "--yes", "--home", home)
    assert "ann" not in _run("users", "--home", home)


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"user_id": "x", "thread_id": "t", "role": "user"}\n')
    proc = subprocess.run([sys.executable, "-c", "from agent_memory.cli import main; main()", "ingest", str(bad),
                           "--home", str(tmp_path / "h")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "missing content" in proc.stderr and "Traceback" not in proc.stdout + proc.stderr
