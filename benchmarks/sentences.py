"""An experiment, not the product: a turn's sentences as vectors of their own (session 14, not kept).

    python -m benchmarks.sentences                       # dense ranking alone: turn vs sentence scores
    python -m benchmarks.cv --exact-vectors --sentence-vectors mix   # through the whole read

A turn that says several things ("Took a short trip to Rome. The food was great. I also started a
pottery class.") has one vector, a blur of all of them. Here a turn of two or more sentences (of three
words or more) also gets one vector per sentence ("speaker: sentence", plus ``CONTEXT_WEIGHT`` of the
previous turn's vector, as the turn's own vector has), and an episode's vector score becomes

- ``max``: the best of the turn's and its sentences' cosines;
- ``mix``: half the turn's cosine, half that best;
- ``mean``: the cosine of one vector per turn, the mean of its sentences' vectors (plus the context), in
  place of the turn's own vector.

``patch_index`` answers the episode vector queries of a cached memory that way (on top of
``cached_reads.exact_vectors``); the product is unchanged. Figures and the decision: docs/BENCHMARKS.md,
"Session 14 pass".
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from agent_memory import Memory
from agent_memory.embedding.minilm import MiniLMEmbedder
from agent_memory.ingest.indexer import CONTEXT_WEIGHT, episode_text
from agent_memory.models import Episode

from .data import default_paths, load_locomo

__all__ = ["MODES", "patch_index", "sentences"]

MODES = ("max", "mix", "mean")
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def sentences(text: str, *, min_words: int = 3) -> list[str]:
    """The sentences of ``text`` worth a vector: none unless there are two or more of ``min_words``+ words."""
    parts = [p for p in _SPLIT.split(text) if len(p.split()) >= min_words]
    return parts if len(parts) >= 2 else []


def _unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def _embed(embed_batch: Callable[[list[str]], Any], texts: Sequence[str]) -> np.ndarray:
    rows = [np.asarray(embed_batch(list(texts[i:i + 64])), dtype=np.float32) for i in range(0, len(texts), 64)]
    return _unit(np.concatenate(rows)) if rows else np.zeros((0, 1), np.float32)


def _messages(memory: Memory, user_id: str) -> list[Episode]:
    """Every message of the user, in conversation order within each thread."""
    episodes: list[Episode] = []
    while True:
        got = memory._core.store.list_episodes(user_id, source="message", limit=1000, offset=len(episodes))
        episodes += got
        if len(got) < 1000:
            break
    return sorted(episodes, key=lambda e: (e.thread_id or "", e.reference_time))


def _user_sentences(memory: Memory, user_id: str, embed_batch: Callable[[list[str]], Any]
                    ) -> tuple[list[str], np.ndarray]:
    """(episode id of each sentence vector, the vectors) for every message of the user."""
    episodes = _messages(memory, user_id)
    own = _embed(embed_batch, [episode_text(e) for e in episodes])
    texts, owner = [], []
    for i, ep in enumerate(episodes):
        for part in sentences(ep.content):
            texts.append(f"{ep.name}: {part}" if ep.name else part)
            owner.append(i)
    if not texts:
        return [], np.zeros((0, own.shape[1]), np.float32)
    vectors = _embed(embed_batch, texts)
    for row, i in enumerate(owner):
        if i and episodes[i - 1].thread_id == episodes[i].thread_id:
            vectors[row] += CONTEXT_WEIGHT * own[i - 1]
    return [episodes[i].uuid for i in owner], _unit(vectors)


def _mean_vectors(memory: Memory, user_id: str, embed_batch: Callable[[list[str]], Any]) -> dict[str, np.ndarray]:
    """Each message's vector made of its sentences' mean (its own text when it has none), plus the context."""
    episodes = _messages(memory, user_id)
    texts, owner = [], []
    for i, ep in enumerate(episodes):
        parts = sentences(ep.content) or [ep.content]
        texts += [f"{ep.name}: {p}" if ep.name else p for p in parts]
        owner += [i] * len(parts)
    vectors = _embed(embed_batch, texts)
    summed = np.zeros((len(episodes), vectors.shape[1]), np.float32)
    np.add.at(summed, np.asarray(owner, dtype=np.int64), vectors)
    own = _unit(summed)
    out = {}
    for i, ep in enumerate(episodes):
        vec = own[i] + (CONTEXT_WEIGHT * own[i - 1] if i and episodes[i - 1].thread_id == ep.thread_id else 0.0)
        out[ep.uuid] = vec / max(float(np.linalg.norm(vec)), 1e-12)
    return out


def patch_index(memory: Memory, mode: str) -> None:
    """Episode vector queries of ``memory`` scored by ``mode`` (call after ``cached_reads.exact_vectors``)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    index: Any = memory._core.store.index  # type: ignore[attr-defined]  # the embedded store's VectorIndex
    first_pass = index.query_many
    embedder = memory._core.retriever.embedder
    embed_batch = getattr(embedder, "inner", embedder).embed_batch
    kept: dict[str, tuple[list[str], np.ndarray]] = {}
    kept_means: dict[str, dict[str, np.ndarray]] = {}

    def _means(user_id: str) -> dict[str, np.ndarray]:
        if user_id not in kept_means:
            kept_means[user_id] = _mean_vectors(memory, user_id, embed_batch)
        return kept_means[user_id]

    def query_many(user_id: str, kind: Any, vectors: Any, k: int) -> list[list[tuple[str, float]]]:
        if kind != "episode":
            return first_pass(user_id, kind, vectors, k)
        # the turn scores of a deep list; an episode only a sentence finds beyond it is left out
        turns = first_pass(user_id, kind, vectors, max(4 * k, k + 200))
        if user_id not in kept:
            kept[user_id] = _user_sentences(memory, user_id, embed_batch)
        ids, matrix = kept[user_id]
        means = _means(user_id) if mode == "mean" else {}
        out = []
        for row, hits in zip(np.atleast_2d(np.asarray(vectors, dtype=np.float32)), turns, strict=True):
            score = dict(hits)
            best: dict[str, float] = {}
            if ids:
                for uid, sim in zip(ids, matrix @ (row / max(float(np.linalg.norm(row)), 1e-12)), strict=True):
                    best[uid] = max(best.get(uid, -1.0), float(sim))
            if mode == "mean":
                unit_row = row / max(float(np.linalg.norm(row)), 1e-12)
                score.update({uid: float(means[uid] @ unit_row) for uid in score if uid in means})
                out.append(sorted(score.items(), key=lambda x: -x[1])[:k])
                continue
            for uid, sim in best.items():
                if uid in score:
                    top = max(score[uid], sim)
                    score[uid] = top if mode == "max" else 0.5 * score[uid] + 0.5 * top
            out.append(sorted(score.items(), key=lambda x: -x[1])[:k])
        return out

    index.query_many = query_many
    index.query = lambda user_id, kind, vector, k: query_many(user_id, kind, vector, k)[0]


def _without(text: str, names: set[str]) -> str:
    """``text`` without the ``names`` (and their possessives)."""
    for name in names:
        text = re.sub(rf"\b{re.escape(name)}(?:'s)?\b", "", text)
    return " ".join(text.split())


def dense_recall(argv: list[str] | None = None) -> int:
    """Dense ranking alone over each LoCoMo conversation (no BM25, no rescoring): evidence recall@k by
    category for the turn's vector, ``max``, ``mix``, and one vector per turn made of its sentences' mean."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sentences", description=dense_recall.__doc__)
    parser.add_argument("--locomo", default=str(default_paths()["locomo"]))
    parser.add_argument("--without-names", action="store_true",
                        help="the question without the speakers' names, as the read's vector query has it")
    args = parser.parse_args(argv)
    model = MiniLMEmbedder()
    ks = (10, 20, 50, 160)
    found: dict[tuple[str, str, int], list[float]] = {}
    for h in load_locomo(args.locomo):
        turns = h.turns
        own = _embed(model.embed_batch, [f"{t.speaker}: {t.text}" if t.speaker else t.text for t in turns])
        before = np.zeros_like(own)
        i = 0
        for session in h.sessions:
            for j in range(len(session.turns)):
                if j:
                    before[i] = own[i - 1]
                i += 1
        turn_vec = _unit(own + CONTEXT_WEIGHT * before)
        texts, owner = [], []
        for i, t in enumerate(turns):
            for part in sentences(t.text):
                texts.append(f"{t.speaker}: {part}" if t.speaker else part)
                owner.append(i)
        sent = _embed(model.embed_batch, texts)
        owners = np.asarray(owner, dtype=np.int64)
        sent_ctx = _unit(sent + CONTEXT_WEIGHT * before[owners])
        mean = own.copy()
        summed = np.zeros_like(own)
        np.add.at(summed, owners, sent)
        has = np.bincount(owners, minlength=len(turns)) > 0
        mean[has] = summed[has]
        mean = _unit(_unit(mean) + CONTEXT_WEIGHT * before)
        tids = [t.tid for t in turns]
        questions = [q for q in h.questions if q.category in ("multi-hop", "open-domain", "single-hop", "temporal")]
        speakers = {t.speaker for t in turns if t.speaker}
        asked = [_without(q.text, speakers) if args.without_names else q.text for q in questions]
        for q, qv in zip(questions, _embed(model.embed_batch, asked), strict=True):
            base = turn_vec @ qv
            best = base.copy()
            np.maximum.at(best, owners, sent_ctx @ qv)
            for name, scores in (("turn", base), ("max", best), ("mix", 0.5 * base + 0.5 * best),
                                 ("mean of sentences", mean @ qv)):
                ranked = [tids[i] for i in np.argsort(-scores, kind="stable")]
                for k in ks:
                    found.setdefault((q.category, name, k), []).append(
                        len(set(q.evidence) & set(ranked[:k])) / len(q.evidence))
        print(f"  {h.hid}: {len(turns)} turns, {len(texts)} sentence vectors", flush=True)
    for category in ("multi-hop", "open-domain", "single-hop", "temporal"):
        for name in ("turn", "max", "mix", "mean of sentences"):
            figures = " ".join(f"R@{k} {np.mean(found[(category, name, k)]):.3f}" for k in ks)
            print(f"{category:<12} {name:<18} {figures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(dense_recall())
