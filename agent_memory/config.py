"""Memory configuration: a frozen pydantic model, read from the environment only when asked."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_HOME", "MemoryConfig"]

DEFAULT_HOME = ".agent_memory"


class MemoryConfig(BaseModel):
    """Where memory lives and how it ingests and retrieves. Every field has a working default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Path | None = Field(default=Path(DEFAULT_HOME), description="directory for data; None = in memory")
    vector_backend: Literal["chroma", "exact"] = "chroma"
    chroma_host: str | None = Field(default=None, description="use a Chroma server instead of embedded")
    chroma_port: int = 8000
    ingest_mode: Literal["inline", "background"] = "inline"
    ingest_batch_size: int = Field(default=64, ge=1, le=4096)
    max_content_chars: int = Field(default=100_000, ge=1)
    max_messages_per_call: int = Field(default=1_000, ge=1)
    query_messages: int = Field(default=3, ge=1, le=50, description="last messages of a thread used as query")
    token_budget: int = Field(default=1_500, ge=50)
    entity_merge_threshold: float = Field(default=0.93, ge=0.0, le=1.0)
    candidate_pool: int = Field(default=40, ge=5, le=1000)
    llm_batch_messages: int = Field(default=10, ge=1, le=200, description="messages per extraction call")
    llm_debounce_seconds: float = Field(default=30.0, ge=0.0, le=3600.0,
                                        description="with a model: the longest a new message waits to be batched")
    llm_min_batch: int = Field(default=10, ge=1, le=1000,
                               description="with a model: process as soon as this many messages are pending")
    llm_summary_min_facts: int = Field(default=8, ge=1, le=10_000,
                                       description="with a model: facts changed before the summary is rewritten")

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
        """Defaults, then ``AGENT_MEMORY_HOME`` / ``AGENT_MEMORY_CHROMA_HOST`` / ``..._PORT``, then overrides."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        if env.get("AGENT_MEMORY_HOME"):
            values["home"] = Path(env["AGENT_MEMORY_HOME"])
        if env.get("AGENT_MEMORY_CHROMA_HOST"):
            values["chroma_host"] = env["AGENT_MEMORY_CHROMA_HOST"]
        if env.get("AGENT_MEMORY_CHROMA_PORT"):
            values["chroma_port"] = int(env["AGENT_MEMORY_CHROMA_PORT"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
