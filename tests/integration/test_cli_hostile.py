"""The command line under careless and hostile input: one clear line and exit code 2, never a traceback;
``ingest`` checks the whole file first, stays in each user's own graph, and a re-run is a no-op."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent_memory import Memory
from agent_memory.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def _write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def _row(content: str, user: str = "ann", thread: str = "a1", **extra: Any) -> dict[str, Any]:
    return {"user_id": user, "thread_id": thread, "role": "user", "content": content, **extra}


def _users(home: Path) -> dict[str, int]:
    """user -> number of episodes, read with the library (the CLI's own output is not what is checked)."""
    if not (home / "memory.db").exists():
        return {}
    with Memory(home) as mem:
        return {u.user_id: len(mem.graph.episodes(user_id=u.user_id)) for u in mem.user.list()}


def test_no_arguments_prints_help_and_succeeds() -> None:
    code, out = _cli()
    assert code == 0 and "ingest" in out and "Usage" in out


@pytest.mark.parametrize("line, why", [
    ("5", "expected a JSON object"), ("null", "got null"), ('"text"', "got str"), ("[1, 2]", "got list"),
    ("{not json", "not valid JSON"), (json.dumps({"user_id": "ann", "thread_id": "a1", "role": "user"}),
                                      "missing content"),
    (json.dumps(_row("hi", colour="red")), "unknown field 'colour'"),
    (json.dumps(_row("hi", role="bogus")), "role"),
    (json.dumps(_row("\u200b")), "empty"),
    (json.dumps(_row("hi", user=" ann")), "whitespace"),
    (json.dumps(_row("hi", created_at="9999-12-31T23:00:00-05:00")), "created_at"),
    (json.dumps(_row("hi", created_at="yesterday")), "RFC 3339"),
    (json.dumps(_row("hi", metadata=[1])), "metadata"),
    ('{"user_id": "ann", "thread_id": "a1", "role": "user", "content": "hi", "metadata": '
     + '{"a": ' * 5000 + "1" + "}" * 5000 + "}", "nested"),
])
def test_a_bad_line_is_reported_with_its_number_and_nothing_is_stored(tmp_path: Path, line: str, why: str) -> None:
    file = _write(tmp_path / "in.jsonl", [_row("I live in Lisbon."), _row("I like jazz."), line, _row("Bye.")])
    code, out = _cli("ingest", str(file), "--home", str(tmp_path / "h"))
    assert code == 2 and f"{file}:3:" in out.replace("\n", "") and why in out.replace("\n", ""), out
    assert _users(tmp_path / "h") == {}


def test_invalid_utf8_a_directory_and_a_missing_file(tmp_path: Path) -> None:
    file = tmp_path / "in.jsonl"
    file.write_bytes(json.dumps(_row("ok")).encode() + b"\n" + b'{"content": "caf\xe9"}\n')
    code, out = _cli("ingest", str(file), "--home", str(tmp_path / "h"))
    assert code == 2 and ":2:" in out and "UTF-8" in out
    code, out = _cli("ingest", str(tmp_path), "--home", str(tmp_path / "h"))
    assert code == 2 and "is a directory" in out
    code, out = _cli("ingest", str(tmp_path / "nope.jsonl"), "--home", str(tmp_path / "h"))
    assert code == 2 and "does not exist" in out
    assert _users(tmp_path / "h") == {}


def test_bad_home_and_bad_environment(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    for home, why in [(afile, "is a file"), (afile / "sub", "part of its path is a file")]:
        code, out = _cli("users", "--home", str(home))
        assert code == 2 and why in out.replace("\n", "")
    if Path("/proc/self").exists():
        code, out = _cli("users", "--home", "/proc/agent-memory")
        assert code == 2 and "error:" in out
    code, out = _cli("users", "--home", str(tmp_path / "h"), env={"AGENT_MEMORY_CHROMA_PORT": "abc"})
    assert code == 2 and "AGENT_MEMORY_CHROMA_PORT" in out


def test_bad_options_are_one_line(tmp_path: Path) -> None:
    home = str(tmp_path / "h")
    code, out = _cli("context", "--user-id", "ghost", "--query", "x", "--home", home)
    assert code == 2 and "does not exist" in out
    code, out = _cli("facts", "--user-id", "ghost", "--as-of", "yesterday", "--home", home)
    assert code == 2
    code, out = _cli("users", "--limit", "-1", "--home", home)
    assert code == 2 and "limit" in out


def test_a_line_cannot_write_into_another_users_thread(tmp_path: Path) -> None:
    home = tmp_path / "h"
    first = _write(tmp_path / "one.jsonl", [_row("Hi, I am Bob.", user="bob", thread="shared")])
    assert _cli("ingest", str(first), "--home", str(home))[0] == 0
    second = _write(tmp_path / "two.jsonl", [_row("Hello.", user="carol", thread="c1"),
                                             _row("My password is hunter2.", user="carol", thread="shared")])
    code, out = _cli("ingest", str(second), "--home", str(home))
    assert code == 2 and "belongs to another user" in out and f"{second}:2:" in out.replace("\n", "")
    assert _users(home) == {"bob": 1}  # carol was not created, bob's graph got nothing of hers
    mixed = _write(tmp_path / "three.jsonl", [_row("a", user="dan", thread="d1"), _row("b", user="erin", thread="d1")])
    code, out = _cli("ingest", str(mixed), "--home", str(home))
    assert code == 2 and "thread 'd1' belongs to user 'dan' (line 1)" in out.replace("\n", "")
    assert _users(home) == {"bob": 1}


def test_ingest_is_idempotent_and_names_the_user(tmp_path: Path) -> None:
    home = tmp_path / "h"
    rows = [_row("I live in Lisbon.", created_at="2024-01-01T10:00:00Z"), _row("ok"), _row("ok"),
            _row("I moved to Porto.", thread="a2", uuid="m-42")]
    file = _write(tmp_path / "in.jsonl", rows)
    code, out = _cli("ingest", str(file), "--home", str(home), "--first-name", "Ann", "--last-name", "Lee")
    assert code == 0 and "ingested 4 messages in" in out and "messages/s after" in out
    code, out = _cli("ingest", str(file), "--home", str(home), "--first-name", "Ann", "--last-name", "Lee")
    assert code == 0 and "ingested 0 messages; 4 already stored, skipped" in out
    assert _users(home) == {"ann": 4}  # the repeated "ok" is two messages, and stays two
    with Memory(home) as mem:
        assert mem.user.get("ann").display_name == "Ann Lee"
        assert [m.uuid for m in mem.thread.get_messages("a2")] == ["m-42"]
    changed = _write(tmp_path / "changed.jsonl", [_row("something else", thread="a2", uuid="m-42")])
    code, out = _cli("ingest", str(changed), "--home", str(home))
    assert code == 2 and "already stored with other content" in out


def test_names_from_the_file_and_conflicts(tmp_path: Path) -> None:
    home = tmp_path / "h"
    file = _write(tmp_path / "in.jsonl", [_row("hi", user="zoe", first_name="Zoe", last_name="Park"),
                                          _row("hello", user="yan", thread="y1", first_name="Yan")])
    code, out = _cli("ingest", str(file), "--home", str(home), "--first-name", "X")
    assert code == 2 and "name one user" in out
    assert _cli("ingest", str(file), "--home", str(home))[0] == 0
    clash = _write(tmp_path / "clash.jsonl", [_row("hey", user="zoe", thread="z2", first_name="Zoey")])
    code, out = _cli("ingest", str(clash), "--home", str(home))
    assert code == 2 and "stored with first_name 'Zoe'" in out
    two = _write(tmp_path / "two.jsonl", [_row("a", user="w", thread="w1", first_name="Wu"),
                                          _row("b", user="w", thread="w1", first_name="Wo")])
    code, out = _cli("ingest", str(two), "--home", str(home))
    assert code == 2 and "first_name 'Wu' on line 1" in out


def test_the_installed_entry_point_never_shows_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("null\n")
    env = {**os.environ, "AGENT_MEMORY_CHROMA_PORT": "abc"}
    for args, environ in [(["ingest", str(bad), "--home", str(tmp_path / "h")], None),
                          (["users", "--home", str(tmp_path / "h")], env), ([], None)]:
        proc = subprocess.run([sys.executable, "-c", "from agent_memory.cli import main; main()", *args],
                              capture_output=True, text=True, timeout=300, env=environ)
        assert "Traceback" not in proc.stdout + proc.stderr
        assert proc.returncode == (0 if not args else 2), proc.stderr
