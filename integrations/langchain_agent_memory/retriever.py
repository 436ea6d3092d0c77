"""A LangChain retriever over one user's temporal graph: facts, entities and episodes as Documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, field_validator, model_validator

from agent_memory import AsyncMemory, Memory
from agent_memory.bridge import Bridge, Flow, call
from agent_memory.errors import ConfigError
from agent_memory.models import SearchResult

__all__ = ["AgentMemoryRetriever", "result_to_document"]

_SCOPES = ("edges", "nodes", "episodes", "observations")


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def result_to_document(result: SearchResult, *, user_id: str, scope: str) -> Document:
    """One search hit as a ``Document``: the text as content; kind, dates, score, provenance as metadata.

    ``score`` is the hit's calibrated relevance in [0, 1] (cosine of query and text under the memory's
    embedder, see ``agent_memory.retrieval.relevance``), comparable across scopes and queries;
    ``fused_score`` is the ranking score of its own scope. Dates are RFC 3339 strings (``None`` when
    unknown) so the metadata stays JSON-serialisable.
    """
    score = result.relevance if result.relevance is not None else 0.0
    base: dict[str, Any] = {"user_id": user_id, "score": float(score), "fused_score": float(result.score),
                            "scope": scope}
    if result.fact is not None:
        f = result.fact
        return Document(f.fact, id=f.uuid, metadata={
            **base, "kind": "fact", "uuid": f.uuid, "relation": f.relation,
            "source": f.source_name, "target": f.target_name,
            "valid_at": _iso(f.valid_at), "invalid_at": _iso(f.invalid_at),
            "created_at": _iso(f.created_at), "expired_at": _iso(f.expired_at),
            "is_current": f.is_current, "episodes": list(f.episodes), "invalidated_by": f.invalidated_by,
        })
    if result.entity is not None:
        e = result.entity
        text = f"{e.name} ({e.type})" + (f": {e.summary}" if e.summary else "")
        return Document(text, id=e.uuid, metadata={
            **base, "kind": "entity", "uuid": e.uuid, "name": e.name, "type": e.type,
            "aliases": list(e.aliases), "created_at": _iso(e.created_at), "updated_at": _iso(e.updated_at),
        })
    if result.episode is not None:
        ep = result.episode
        return Document(ep.content, id=ep.uuid, metadata={
            **base, "kind": "episode", "uuid": ep.uuid, "source": ep.source.value,
            "role": ep.role.value if ep.role else None, "name": ep.name, "thread_id": ep.thread_id,
            "reference_time": _iso(ep.reference_time), "created_at": _iso(ep.ingested_at),
            "episodes": [ep.uuid],
        })
    o = result.observation
    assert o is not None, "a SearchResult holds exactly one record"
    return Document(o.text, id=o.uuid, metadata={
        **base, "kind": "observation", "uuid": o.uuid, "first_seen": _iso(o.first_seen),
        "last_seen": _iso(o.last_seen), "count": o.count, "sessions": list(o.sessions),
        "evidence": list(o.evidence),
    })


class AgentMemoryRetriever(BaseRetriever):
    """Hybrid retrieval (vector + full text + graph, fused and reranked) over one user's memory.

    Returns facts, entities and episodes (the ``scopes``), best first, as ``Document``s whose
    ``metadata`` carries ``kind``, ``uuid``, ``score``, the dates (``valid_at``/``invalid_at`` for
    facts, ``reference_time`` for episodes, ``created_at``...) and provenance (``episodes``: the
    episode ids a fact came from; ``thread_id`` of an episode).

    Setup:
        ``pip install "agent-memory[langchain]"``

    Key init args:
        memory: a ``Memory`` (sync and async) or an ``AsyncMemory`` (async only).
        user_id: whose graph to search.
        k: how many documents to return (also accepted per call: ``invoke(q, k=2)``).
        scopes: which record kinds to search: any of ``edges`` (facts), ``nodes`` (entities),
            ``episodes``, ``observations``.
        filters: ``SearchFilters`` fields as a dict, e.g. ``{"valid_only": True}``.
        score_threshold: drop documents whose relevance (``metadata["score"]``, in [0, 1]) is lower.
        search_kwargs: as for a vector store's retriever: ``k``, ``filter`` (or ``filters``),
            ``score_threshold`` and ``scopes``; any other key is refused.

    Usage:
        .. code-block:: python

            retriever = AgentMemoryRetriever(memory=memory, user_id="jane", k=5)
            docs = retriever.invoke("Where does Jane live?")

    Async:
        ``ainvoke`` is native: awaited on an ``AsyncMemory``, in a worker thread on a ``Memory``.

    Each scope is ranked by its own hybrid search; the scopes are merged on the calibrated
    relevance (``metadata["score"]``), so a fact that matches the query well beats a loosely
    related episode.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: Any = Field(description="A Memory or AsyncMemory.")
    user_id: str
    k: int = 4
    scopes: tuple[str, ...] = ("edges", "nodes", "episodes")
    filters: dict[str, Any] | None = None
    score_threshold: float | None = None
    search_kwargs: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _fold_search_kwargs(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("search_kwargs"):
            return data
        extra = dict(data["search_kwargs"])
        if "filter" in extra:
            extra["filters"] = extra.pop("filter")
        unknown = sorted(set(extra) - {"k", "filters", "score_threshold", "scopes"})
        if unknown:
            raise ConfigError(f"search_kwargs keys {unknown} are not supported; use k, filter, score_threshold "
                              "or scopes")
        clash = sorted(k for k in extra if k in data and data[k] != extra[k])
        if clash:
            raise ConfigError(f"{clash} given both directly and in search_kwargs; give each once")
        return {**data, **extra}

    @field_validator("memory")
    @classmethod
    def _check_memory(cls, value: Any) -> Any:
        if not isinstance(value, (Memory, AsyncMemory)):
            raise ConfigError("memory must be an agent_memory Memory or AsyncMemory, "
                              f"got {type(value).__name__}")
        return value

    @field_validator("scopes")
    @classmethod
    def _check_scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [s for s in value if s not in _SCOPES]
        if bad or not value:
            raise ConfigError(f"scopes must be a non-empty subset of {_SCOPES}, got {value!r}")
        return value

    @field_validator("k")
    @classmethod
    def _check_k(cls, value: int) -> int:
        if not 0 < value <= 1000:
            raise ConfigError(f"k must be from 1 to 1000, got {value}")
        return value

    def _search(self, query: str, k: int) -> Flow[list[Document]]:
        docs: list[Document] = []
        for scope in self.scopes:
            hits = yield from call(lambda api: api.graph.search(user_id=self.user_id, query=query, scope=scope,
                                   limit=k, filters=self.filters, relevance=True))
            docs.extend(result_to_document(h, user_id=self.user_id, scope=scope) for h in hits)
        docs.sort(key=lambda d: d.metadata["score"], reverse=True)  # stable: scope order breaks ties
        if self.score_threshold is not None:
            docs = [d for d in docs if d.metadata["score"] >= self.score_threshold]
        return docs[:k]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None) -> list[Document]:
        return Bridge(self.memory).run(self._search(query, self.k if k is None else k))

    async def _aget_relevant_documents(self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun,
                                       k: int | None = None) -> list[Document]:
        return await Bridge(self.memory).arun(self._search(query, self.k if k is None else k))
