"""The adapters install from the root ``pyproject.toml`` and import under the ecosystem's names.

Editable install: the names import live from ``integrations/`` in this venv. Normal install: a
wheel built from a copy of the sources holds all three import paths (``llama_index`` and
``llama_index.memory`` as namespace packages, so they merge with ``llama-index-core``), and
installed with ``pip install --target`` it imports from there.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMPORT_NAMES = ["langchain_agent_memory", "langgraph_agent_memory", "llama_index.memory.agent_memory"]
PACKAGE_DIRS = {
    "langchain_agent_memory": "integrations/langchain_agent_memory",
    "langgraph_agent_memory": "integrations/langgraph_agent_memory",
    "llama_index.memory.agent_memory": "integrations/llama_index/memory/agent_memory",
}


@pytest.mark.parametrize("name", IMPORT_NAMES)
def test_editable_install_imports_from_the_source_tree(name: str) -> None:
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().parent == (ROOT / PACKAGE_DIRS[name]).resolve()
    assert module.__all__ and all(hasattr(module, attr) for attr in module.__all__)


def test_llama_index_core_still_imports_next_to_our_namespace_portion() -> None:
    import llama_index.core
    import llama_index.memory.agent_memory

    assert not hasattr(llama_index, "__file__") or llama_index.__file__ is None  # a namespace package
    assert Path(llama_index.core.__file__).parent.name == "core"


def test_extras() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    names = {k: {re.split(r"[<>=\[]", d)[0] for d in v} for k, v in extras.items()}
    assert "langchain-core" in names["langchain"]
    assert {"langgraph", "langchain-core", "langchain"} <= names["langgraph"]
    assert "llama-index-core" in names["llamaindex"]
    combined = extras["all"][0].split("[")[1].rstrip("]").split(",")
    assert {"langchain", "langgraph", "llamaindex"} <= set(combined)


def test_core_never_imports_a_framework() -> None:
    for path in (ROOT / "agent_memory").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for framework in ("langchain", "langgraph", "llama_index"):
            assert f"import {framework}" not in text and f"from {framework}" not in text, path


def test_adapters_use_only_the_public_api() -> None:
    for path in (ROOT / "integrations").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for private in ("agent_memory._core", "agent_memory.storage", "._core", "store._", ".store.list"):
            assert private not in text, (path, private)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the sources (so the build never touches the working tree)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "agent_memory", src / "agent_memory", ignore=ignore)
    shutil.copytree(ROOT / "integrations", src / "integrations", ignore=ignore)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
               "-w", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (found,) = out.glob("agent_memory-*.whl")
    return found


@pytest.mark.slow
def test_wheel_holds_the_three_import_paths(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in IMPORT_NAMES:
        path = module.replace(".", "/")
        assert f"{path}/__init__.py" in names and f"{path}/py.typed" in names, module
    assert "llama_index/__init__.py" not in names and "llama_index/memory/__init__.py" not in names
    assert "agent_memory/bridge.py" in names
    assert "agent_memory/__init__.py" in names and "agent_memory/context/placement.py" in names
    assert not any(n.startswith(("tests/", "examples/", "notebooks/", "integrations/")) for n in names)


@pytest.mark.slow
def test_normal_install_imports_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                           "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    probe = (
        "import sys, llama_index.core, langchain_agent_memory, langgraph_agent_memory, "
        "llama_index.memory.agent_memory as li\n"
        "from langchain_agent_memory import AgentMemoryChatMessageHistory, AgentMemoryRetriever\n"
        "from langgraph_agent_memory import AgentMemoryStore, AgentMemoryMiddleware\n"
        "from llama_index.memory.agent_memory import AgentMemory, AgentMemoryBlock\n"
        "print(langchain_agent_memory.__file__); print(langgraph_agent_memory.__file__); print(li.__file__)\n"
    )
    ran = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert ran.returncode == 0, ran.stderr[-3000:]
    files = ran.stdout.split()
    assert len(files) == 3 and all(f.startswith(str(target)) for f in files), ran.stdout
