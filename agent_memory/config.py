"""Memory configuration: a frozen pydantic model, read from the environment only when asked.

This is the one module that reads the environment (``from_env``, ``llm_environment``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_HOME", "LLM_PREFIX", "MemoryConfig", "llm_environment"]

DEFAULT_HOME = ".agent_memory"
LLM_PREFIX = "AGENT_MEMORY_LLM"
# what an OpenAI-compatible client reads, once the model path is asked for
_LLM_KEYS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_VERSION", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY")


def llm_environment(env: Mapping[str, str] | None = None, *, asked: bool = False) -> dict[str, str] | None:
    """The model settings of the environment, or None when no ``AGENT_MEMORY_LLM*`` variable asks for one
    (and the caller did not: ``asked``).

    ``OPENAI_API_KEY`` alone never turns the model path on (it may be there for the agent's own model).
    ``AGENT_MEMORY_LLM_BASE_URL`` / ``AGENT_MEMORY_LLM_API_KEY`` take precedence over the OPENAI_* ones.
    """
    env = os.environ if env is None else env
    if not asked and not any(k.startswith(LLM_PREFIX) and v for k, v in env.items()):
        return None
    out = {k: env[k] for k in _LLM_KEYS if env.get(k)}
    out.update({k: v for k, v in env.items() if k.startswith(LLM_PREFIX) and v})
    if env.get(f"{LLM_PREFIX}_BASE_URL"):
        out["OPENAI_BASE_URL"] = env[f"{LLM_PREFIX}_BASE_URL"]
    if env.get(f"{LLM_PREFIX}_API_KEY"):
        out["OPENAI_API_KEY"] = env[f"{LLM_PREFIX}_API_KEY"]
    return out


class MemoryConfig(BaseModel):
    """Where memory lives and how it ingests and retrieves. Every field has a working default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Path | None = Field(default=Path(DEFAULT_HOME), description="directory for data; None = in memory")
    vector_backend: Literal["chroma", "exact"] = "chroma"
    chroma_host: str | None = Field(default=None, description="use a Chroma server instead of embedded")
    chroma_port: int = Field(default=8000, ge=1, le=65535)
    database_url: str | None = Field(default=None, repr=False,
                                     description="a PostgreSQL URL: records, full text and vectors in one server")
    llm: bool = Field(default=False, description="use the model configured by the environment (AGENT_MEMORY_LLM_*)")
    ingest_mode: Literal["inline", "background"] = "inline"
    ingest_batch_size: int | None = Field(default=None, ge=1, le=4096,
                                          description="episodes per batch; None: 128, or 64 with a model "
                                                      "(its resolution call reads the whole batch)")
    max_content_chars: int = Field(default=100_000, ge=1)
    max_messages_per_call: int = Field(default=1_000, ge=1)
    query_messages: int = Field(default=3, ge=1, le=50, description="last messages of a thread used as query")
    token_budget: int = Field(default=1_500, ge=50)
    entity_merge_threshold: float = Field(default=0.93, ge=0.0, le=1.0)
    candidate_pool: int = Field(default=40, ge=5, le=1000)
    read_switch_interval: float = Field(
        default=0.001, ge=0.0, le=0.1,
        description="seconds: Python's thread switch interval while a read is in flight, if shorter than "
                    "the process's (0: leave it alone); a read's threads then wait less for the GIL")
    llm_batch_messages: int = Field(default=10, ge=1, le=200, description="messages per extraction call")
    summary_questions: tuple[str, ...] = Field(
        default=(), max_length=20,
        description="questions the user summary must always answer, e.g. \"What is the user's budget?\"")
    llm_timeout_seconds: float | None = Field(
        default=None, gt=0, le=86_400,
        description="seconds per model call attempt; None: AGENT_MEMORY_LLM_TIMEOUT, else 600 local / 60 remote")
    llm_debounce_seconds: float = Field(default=30.0, ge=0.0, le=3600.0,
                                        description="with a model: the longest a new message waits to be batched")
    llm_min_batch: int = Field(default=10, ge=1, le=1000,
                               description="with a model: process as soon as this many messages are pending")
    llm_summary_min_facts: int = Field(default=8, ge=1, le=10_000,
                                       description="with a model: facts changed before the summary is rewritten")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            raise _config_error(exc) from None

    @property
    def db_path(self) -> str:
        """The SQLite file (or ``:memory:``)."""
        return ":memory:" if self.home is None else str(self.home / "memory.db")

    @property
    def chroma_path(self) -> str | None:
        """The embedded Chroma directory, if any."""
        return None if self.home is None else str(self.home / "chroma")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> MemoryConfig:
        """Defaults, then ``AGENT_MEMORY_HOME`` / ``..._CHROMA_HOST`` / ``..._CHROMA_PORT`` /
        ``..._DATABASE_URL`` / any ``AGENT_MEMORY_LLM*`` (switches the model path on), then overrides."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        if env.get("AGENT_MEMORY_HOME"):
            values["home"] = Path(env["AGENT_MEMORY_HOME"])
        if env.get("AGENT_MEMORY_CHROMA_HOST"):
            values["chroma_host"] = env["AGENT_MEMORY_CHROMA_HOST"]
        if env.get("AGENT_MEMORY_CHROMA_PORT"):
            values["chroma_port"] = _port(env["AGENT_MEMORY_CHROMA_PORT"], "AGENT_MEMORY_CHROMA_PORT")
        if env.get("AGENT_MEMORY_DATABASE_URL"):
            values["database_url"] = env["AGENT_MEMORY_DATABASE_URL"]
        if llm_environment(env) is not None:
            values["llm"] = True
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _config_error(exc: pydantic.ValidationError) -> Exception:
    """pydantic's error as our ConfigError: which setting, what is wrong, what was given."""
    from .errors import ConfigError

    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "value"
        lines.append(f"MemoryConfig.{loc}: {err.get('msg', 'invalid value')} (got {err.get('input')!r})")
    return ConfigError("; ".join(lines))


def _port(text: str, name: str) -> int:
    from .errors import ConfigError

    if not text.strip().isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"{name}={text!r} is not a port number; set it to a whole number from 1 to 65535")
    return int(text)


def ensure_home(home: Path) -> None:
    """Create the memory directory, or raise ConfigError saying why it cannot be used."""
    from .errors import ConfigError

    path = Path(home)
    if "\0" in str(path):
        raise ConfigError(f"memory home {str(path)!r} has a NUL byte; pass a real directory path")
    if path.exists() and not path.is_dir():
        raise ConfigError(f"memory home {str(path)!r} is a file, not a directory; pass a directory "
                          "(--home / AGENT_MEMORY_HOME / Memory(home=...))")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (NotADirectoryError, FileExistsError) as exc:
        raise ConfigError(f"memory home {str(path)!r} cannot be created: a part of its path is a file "
                          f"({exc.strerror}); choose a directory path") from exc
    except OSError as exc:
        raise ConfigError(f"memory home {str(path)!r} cannot be created ({exc.strerror or exc}); choose a "
                          "writable directory") from exc
