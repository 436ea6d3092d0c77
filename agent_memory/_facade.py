"""What ``Memory`` and ``AsyncMemory`` share: building the service from a home, a URL or a config."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from .builder import build_service
from .config import MemoryConfig
from .embedding.base import Embedder
from .extraction.base import Extractor
from .storage.base import GraphStore, ReconcileReport
from .storage.vectors import VectorIndex
from .validation import check_home

__all__ = ["MemoryBase"]

T = TypeVar("T", bound="MemoryBase")


class MemoryBase:
    """Builds the core from a home directory or config; shared by both facades.

    ``llm``: ``"auto"`` (default) stays offline unless the model path is asked for: by
    ``MemoryConfig(llm=True)`` or an ``AGENT_MEMORY_LLM*`` variable (e.g. ``AGENT_MEMORY_LLM_MODEL``,
    ``AGENT_MEMORY_LLM_BASE_URL``); ``OPENAI_API_KEY`` alone never turns it on. ``True`` asks for
    the environment's model; pass an ``agent_memory.llm.OpenAILLM`` to choose, ``None``/``False``
    to stay offline.
    ``store``: any ``GraphStore`` (else built from the config: see ``agent_memory.builder``).
    ``ontology``: custom entity and edge types for the model's extraction.
    """

    def __init__(self, home: str | Path | None = None, *, config: MemoryConfig | None = None,
                 embedder: Embedder | None = None, extractor: Extractor | None = None,
                 store: GraphStore | None = None, vector_index: VectorIndex | None = None,
                 json_extractor: Extractor | None = None, llm: Any = "auto", ontology: Any = None) -> None:
        if isinstance(home, str) and home.startswith(("postgresql://", "postgres://")):  # a shared database
            update: dict[str, Any] = {"database_url": home}
            config = (MemoryConfig.from_env(**update) if config is None else config.model_copy(update=update))
        elif config is None:
            config = MemoryConfig.from_env(home=check_home(home) if home is not None else None)
        elif home is not None:
            config = config.model_copy(update={"home": check_home(home)})
        self._core = build_service(config, store=store, vector_index=vector_index, embedder=embedder,
                                   extractor=extractor, json_extractor=json_extractor, llm=llm, ontology=ontology)
        self.config = self._core.config  # as used: a model switches ingestion to the background

    @property
    def llm(self) -> Any:
        """The model client ingestion uses (e.g. an ``OpenAILLM``), or None when offline."""
        return self._core.llm

    @property
    def reconciled(self) -> ReconcileReport:
        """What opening this memory repaired (vectors queued again, orphan vectors removed)."""
        return self._core.reconcile_report

    @classmethod
    def ephemeral(cls: type[T], **kwargs: Any) -> T:
        """An in-memory Memory (SQLite ``:memory:`` and an exact vector index): for tests and notebooks."""
        config = kwargs.pop("config", None) or MemoryConfig(home=None, vector_backend="exact")
        return cls(config=config.model_copy(update={"home": None, "vector_backend": "exact", "chroma_host": None}),
                   **kwargs)
