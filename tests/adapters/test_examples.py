"""Every example and notebook runs offline and shows recall across threads, so none can rot.

Examples run as a new user would run them (``python examples/X.py``, with this interpreter) in a
scratch working directory; notebooks execute with nbclient on a ``python3`` kernel that is
pinned to this interpreter through a temporary kernelspec (``JUPYTER_PATH``). Notebooks in the
repository must carry no outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

pytestmark = pytest.mark.slow

EXPECTED = {
    "langgraph_agent.py": ["== Day 2", "Denver", "RECALL ACROSS THREADS: yes"],
    "llamaindex_chat_engine.py": ["== Day 2", "grey cat", "RECALL ACROSS THREADS: yes"],
    "langchain_retriever_chain.py": ["== Day 2", "fact", "score=", "Denver", "RECALL ACROSS THREADS: yes"],
    "langgraph_store_graph.py": ["== Day 2", "peanuts", "RECALL ACROSS THREADS: yes", "FORGOTTEN AFTER DELETE: yes"],
    "llamaindex_function_agent.py": ["== Day 2", "grey cat", "RECALL ACROSS THREADS: yes", "SAVED NOTE FOUND: yes"],
}
NOTEBOOK_EXPECTED = {
    "cross_session_recall.ipynb": ["DAY 2 RECALL: True", "CLOSED FACT:", "2024-06-01",
                                   "BUSINESS EVENT RECALL: True"],
}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "AGENT_MEMORY_HOME")}
    env.update(ORT_DISABLE_TELEMETRY="1", ANONYMIZED_TELEMETRY="False", **extra)
    return env


def test_every_example_and_notebook_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES) == sorted(EXPECTED)
    assert sorted(p.name for p in NOTEBOOKS) == sorted(NOTEBOOK_EXPECTED)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_offline_and_recalls(example: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(example)], cwd=tmp_path, env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for expected in EXPECTED[example.name]:
        assert expected in done.stdout, done.stdout
    assert list(tmp_path.iterdir()) == []  # the memory home was a temporary directory


def test_example_uses_agent_memory_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "langgraph_agent.py")], cwd=tmp_path,
                          env=_env(AGENT_MEMORY_HOME=str(home)), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (home / "memory.db").exists()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(notebook: Path) -> None:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None


@pytest.fixture
def kernel_for_this_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A ``python3`` kernelspec that runs ``sys.executable`` (not whatever ``python`` is on PATH)."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (agent-memory tests)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    for key in ("OPENAI_API_KEY", "AGENT_MEMORY_HOME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ORT_DISABLE_TELEMETRY", "1")
    return "python3"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_and_recalls(notebook: Path, tmp_path: Path,
                                       kernel_for_this_interpreter: str) -> None:
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    assert KernelSpecManager().get_kernel_spec(kernel_for_this_interpreter).argv[0] == sys.executable
    workdir = tmp_path / "work"
    workdir.mkdir()
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, kernel_name=kernel_for_this_interpreter, timeout=300,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    printed = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                      for out in cell.outputs if out.get("output_type") == "stream")
    for expected in NOTEBOOK_EXPECTED[notebook.name]:
        assert expected in printed, printed
    assert list(workdir.iterdir()) == []  # nothing written to the working directory
