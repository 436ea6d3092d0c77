"""Builds a memory's parts from its config: the one module that imports concrete backends.

The store follows the config: ``database_url`` (PostgreSQL), else a home directory (SQLite plus
embedded Chroma, or a Chroma server when ``chroma_host`` is set), else an ephemeral store (a
private temporary SQLite file plus the exact in-process vector index). A home is locked for its
owner (``storage.home``). The model path is used only when asked: an ``llm=`` client, ``llm=True``,
``MemoryConfig(llm=True)``, or an ``AGENT_MEMORY_LLM*`` variable (read by ``config``).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from .config import MemoryConfig, ensure_home, llm_environment
from .embedding.base import Embedder
from .errors import ConfigError, MissingDependencyError
from .extraction.base import Extractor
from .service import MemoryService
from .storage.base import GraphStore
from .storage.vectors import VectorIndex

__all__ = ["build_service", "open_store", "resolve_llm"]

log = logging.getLogger(__name__)


def resolve_llm(llm: Any, config: MemoryConfig) -> Any:
    """The model client to use, or None.

    ``"auto"`` (the default): a client from the environment when ``config.llm`` is set or an
    ``AGENT_MEMORY_LLM*`` variable is; ``True``: the same, and it must exist; ``None``/``False``:
    none; else a client object with ``generate_structured``.
    """
    if llm is None or llm is False:
        return None
    if llm == "auto" or llm is True:
        env = llm_environment(asked=config.llm or llm is True)
        if env is None:
            return None
        from .llm.openai import OpenAILLM

        client = OpenAILLM.from_env(env, timeout=config.llm_timeout_seconds)
        if client is None:
            raise ConfigError("the model path was asked for (llm=True, MemoryConfig(llm=True) or an AGENT_MEMORY_LLM* "
                              "variable) but no endpoint is configured: set AGENT_MEMORY_LLM_BASE_URL (or "
                              "OPENAI_API_KEY / OPENAI_BASE_URL / AZURE_OPENAI_ENDPOINT), or pass llm=OpenAILLM(...)")
        return client
    if not callable(getattr(llm, "generate_structured", None)):
        raise ConfigError("llm must have generate_structured(messages, schema, *, name, episodes) "
                          "(e.g. agent_memory.llm.OpenAILLM), or be 'auto', True, None or False")
    return llm


def default_index(config: MemoryConfig) -> VectorIndex:
    """The vector index the config asks for: a Chroma server, embedded Chroma, or the exact index."""
    if config.chroma_host:
        from .storage.chroma import ChromaIndex

        return ChromaIndex.http(config.chroma_host, config.chroma_port)
    if config.vector_backend == "exact" or config.chroma_path is None:
        from .storage.inmemory import ExactIndex

        return ExactIndex()
    from .storage.chroma import ChromaIndex

    return ChromaIndex.persistent(config.chroma_path)


def open_store(config: MemoryConfig, vector_index: VectorIndex | None = None) -> GraphStore:
    """The GraphStore the config describes (see the module docstring)."""
    if config.database_url:
        try:
            from .storage.postgres import PostgresStore  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            raise MissingDependencyError("database_url needs the PostgreSQL backend: "
                                         "pip install 'agent-memory[postgres]'") from exc
        return PostgresStore.open(config.database_url)  # type: ignore[no-any-return,unused-ignore]
    from .storage.embedded import EmbeddedStore
    from .storage.home import HomeLock

    if config.home is None:
        if config.chroma_host:  # records in a private temporary file, vectors on a shared server
            raise ConfigError(
                "a Chroma server holds only the vectors; the records (SQLite) need a home that every process "
                "sharing the memory opens: MemoryConfig(home=..., chroma_host=...) for processes on one machine, "
                "or PostgreSQL (database_url / AGENT_MEMORY_DATABASE_URL) for several machines")
        return EmbeddedStore(":memory:", vector_index or default_index(config))
    home = Path(config.home)
    ensure_home(home)
    lock = HomeLock(home, shared=bool(config.chroma_host))  # before anything opens a file of the home
    try:
        index = vector_index or default_index(config)
    except BaseException:
        lock.close()
        raise
    try:
        store = EmbeddedStore(config.db_path, index, on_close=[lock], exclusive=not lock.shared)
    except BaseException:
        index.close()
        lock.close()
        raise
    if config.chroma_host and vector_index is None:  # a server may serve several memories: keep them apart
        index.prefix = store.vector_namespace()  # type: ignore[attr-defined]
    return store


def build_service(config: MemoryConfig, *, store: GraphStore | None = None, vector_index: VectorIndex | None = None,
                  embedder: Embedder | None = None, extractor: Extractor | None = None,
                  json_extractor: Extractor | None = None, llm: Any = "auto", ontology: Any = None) -> MemoryService:
    """Build every part a Memory needs (defaults for what is not given) and the service over them."""
    client = resolve_llm(llm, config)
    owner = getattr(getattr(client, "on_call", None), "__self__", None)
    if isinstance(owner, MemoryService) and not owner._store_closed:  # its records would go to the other memory
        raise ConfigError("this model client already serves another open Memory, whose accounting it reports "
                          "to; give each Memory its own client (e.g. OpenAILLM.from_env())")
    if ontology is not None and not callable(getattr(ontology, "spec", None)):
        raise ConfigError("ontology must be an agent_memory.extraction.ontology.Ontology, e.g. "
                          f"Ontology(entity_types=[...], edge_types=[...]); got {type(ontology).__name__}")
    if store is not None and vector_index is not None:
        raise ConfigError("pass either store= (a GraphStore with its own vectors) or vector_index=, not both")
    judge = None
    if client is not None:
        from .ingest.judge import judge_facts

        judge = functools.partial(judge_facts, client)
        if extractor is None:
            from .extraction.llm import LLMExtractor

            extractor = LLMExtractor(client, ontology=ontology, max_batch_messages=config.llm_batch_messages)
        if "ingest_mode" not in config.model_fields_set:  # a model is slow: do not block add_messages
            config = config.model_copy(update={"ingest_mode": "background"})
    elif ontology is not None:
        log.warning("ontology= is used by the model's extraction only, and no model is configured: ignored")
    if extractor is None:
        from .extraction.offline import OfflineExtractor

        extractor = OfflineExtractor()
    if json_extractor is None:
        from .extraction.json import JsonExtractor

        json_extractor = JsonExtractor()
    if embedder is None:
        from .embedding.minilm import MiniLMEmbedder

        embedder = MiniLMEmbedder()
    owned = store is None
    store = store or open_store(config, vector_index)
    try:
        return MemoryService(config, store=store, embedder=embedder, extractor=extractor,
                             json_extractor=json_extractor, llm=client, judge=judge)
    except BaseException:
        if owned:
            store.close()
        raise
