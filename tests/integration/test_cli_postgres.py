"""The command line on a shared PostgreSQL memory: --database-url on every command, or the variable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_memory.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


def _run(*args: str, env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False, env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_takes_a_database_url(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGENT_MEMORY_HOME", raising=False)
    rows = [{"user_id": "ann", "thread_id": "a1", "role": "user", "name": "Ann", "content": "I live in Lisbon.",
             "created_at": "2024-01-01T10:00:00Z"},
            {"user_id": "ann", "thread_id": "a2", "role": "user", "name": "Ann", "content": "I love jazz records.",
             "created_at": "2024-05-01T10:00:00Z"}]
    file = tmp_path / "in.jsonl"
    file.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    url = ["--database-url", postgres_url]
    assert "ingested 2 messages" in _run("ingest", str(file), *url)
    assert "ann" in _run("users", *url)
    assert "Lisbon" in _run("context", "--user-id", "ann", "--query", "where does Ann live?", *url)
    assert "jazz" in _run("search", "--user-id", "ann", "jazz music", "--scope", "episodes", *url)
    assert "Lisbon" in _run("facts", "--user-id", "ann", *url)
    assert not (tmp_path / ".agent_memory").exists()  # nothing went to a local home
    env = {"AGENT_MEMORY_DATABASE_URL": postgres_url}
    assert "ann" in _run("users", env=env)
    _run("delete-user", "ann", "--yes", env=env)
    assert "ann" not in _run("users", *url)
    bad = runner.invoke(app, ["users", "--database-url", "mysql://nowhere/db"])
    assert bad.exit_code == 2 and "postgresql://" in bad.output


def test_demo_runs_on_a_database_url_and_leaves_no_user_behind(tmp_path: Path, postgres_url: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = _run("demo", "--database-url", postgres_url)
    assert "Octavia Butler" in out and "payment_failed" in out and "changed facts, closed not deleted" in out
    assert "PostgreSQL" in out and not (tmp_path / ".agent_memory").exists()
    assert "jane-demo" not in _run("users", "--database-url", postgres_url)  # the demo's user is deleted after
    both = runner.invoke(app, ["demo", "--home", str(tmp_path / "home")],
                         env={"AGENT_MEMORY_DATABASE_URL": postgres_url})
    assert both.exit_code == 2 and "--database-url" in both.output  # the variable counts as --database-url
    assert not (tmp_path / "home").exists()
