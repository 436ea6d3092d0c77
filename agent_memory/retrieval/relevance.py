"""A calibrated relevance for search hits: one meaning across kinds and queries, so callers can threshold.

The fused ``score`` of ``graph.search`` ranks well within one query and one scope, but its scale
moves with both (a nonsense query's best hit scores like a perfect one). ``relevance`` is the
cosine similarity of the query and the hit under the memory's embedder, clipped to [0, 1]: 1 means
the same meaning, 0 means unrelated (or opposite). With the bundled MiniLM, paraphrases score
~0.6-0.9, related topics ~0.3-0.5, unrelated text below ~0.2. The hit's vector is the one the
vector index already holds and matched at search time (an episode's carries a little of the turn it
answers); only a hit the index did not return (a BM25 or graph hit, a vector still queued) has its
text embedded, in one batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..embedding.base import Embedder
from ..models import SearchResult

__all__ = ["MAX_TEXT_CHARS", "attach_relevance", "hit_text", "relevance"]

MAX_TEXT_CHARS = 2000
"""Only the head of a long hit is embedded (an embedder reads a few hundred tokens anyway)."""


def hit_text(result: SearchResult) -> str:
    """The text a hit is judged on: a fact's sentence, an entity's name, type and summary, an episode's content."""
    if result.fact is not None:
        return result.fact.fact
    if result.entity is not None:
        e = result.entity
        return f"{e.name} ({e.type})" + (f": {e.summary}" if e.summary else "")
    if result.episode is not None:
        return result.episode.content
    return result.observation.text if result.observation is not None else ""


def relevance(embedder: Embedder, query: str, texts: Sequence[str]) -> list[float]:
    """Cosine similarity of ``query`` and each text, clipped to [0, 1] (one embedding batch)."""
    if not texts:
        return []
    vectors = np.asarray(embedder.embed_batch([query, *(t[:MAX_TEXT_CHARS] or " " for t in texts)]),
                         dtype=np.float32)
    q, rows = vectors[0], vectors[1:]
    norms = np.linalg.norm(rows, axis=1) * max(float(np.linalg.norm(q)), 1e-12)
    cos = rows @ q / np.maximum(norms, 1e-12)
    return [float(min(1.0, max(0.0, c))) for c in cos]


def _uuid(result: SearchResult) -> str | None:
    record = result.fact or result.entity or result.episode or result.observation
    return record.uuid if record is not None else None


def attach_relevance(embedder: Embedder, query: str, results: list[SearchResult],
                     known: Mapping[str, float] | None = None) -> list[SearchResult]:
    """The results with ``relevance`` set (same order); an empty query leaves them unset.

    ``known``: uuid -> cosine of the query and that record's stored vector (from the search that
    found it); only the other hits are embedded.
    """
    if not results or not query.strip():
        return results
    known = known or {}
    ids = [_uuid(r) for r in results]
    todo = [i for i, u in enumerate(ids) if u is None or u not in known]
    fresh = dict(zip(todo, relevance(embedder, query, [hit_text(results[i]) for i in todo])))
    scores = [fresh[i] if i in fresh else min(1.0, max(0.0, known[ids[i] or ""])) for i in range(len(results))]
    return [r.model_copy(update={"relevance": s}) for r, s in zip(results, scores)]
