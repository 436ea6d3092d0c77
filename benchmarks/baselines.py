"""What a user would otherwise pick: BM25 over turns, dense retrieval over turns, and their RRF.

Each baseline indexes the turns of one history as single items (the text a memory would store:
``speaker: text``), ranks them for a question, and fills a token budget exactly as the context
block renders episodes: the turns, best first while they fit, are rendered by the library's own
``render_context`` (one date line per day, the same line per turn) inside ``<EPISODES>`` tags.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from agent_memory.context.lines import day_line, episode_body
from agent_memory.context.render import ContextParts, render_context
from agent_memory.context.tokens import count_tokens
from agent_memory.embedding.base import Embedder
from agent_memory.models import Episode, EpisodeSource, Role

from .data import History, Turn
from .metrics import fill_budget, rrf_fuse

__all__ = ["BASELINES", "BASELINE_TEMPLATE", "CachingEmbedder", "TurnBaselines", "turn_episode", "turn_text"]

BASELINES = ("bm25", "dense", "rrf")
BASELINE_TEMPLATE = "<EPISODES>\n%{episodes}\n</EPISODES>"


def turn_text(turn: Turn) -> str:
    """What a baseline indexes: the speaker's name and the text (as memory embeds an episode)."""
    return f"{turn.speaker}: {turn.text}" if turn.speaker else turn.text


def turn_episode(turn: Turn, when: datetime) -> Episode:
    """The turn as the episode memory would store (its uuid is the turn id)."""
    return Episode(uuid=turn.tid, user_id="baseline", source=EpisodeSource.message, content=turn.text,
                   role=Role(turn.role), name=turn.speaker, reference_time=when)


class CachingEmbedder:
    """Memoises another embedder by text (sha1), optionally on disk: same vectors, computed once.

    Used so that the baselines and memory do not embed the same text twice in one run, and so
    that repeated runs can skip embedding (``--embed-cache``). Timed figures never use it.
    """

    def __init__(self, inner: Embedder, path: str | Path | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimensions = inner.dimensions
        self.path = Path(path) if path else None
        self._cache: dict[bytes, np.ndarray] = {}
        self._dirty = False
        if self.path:
            self._cache.update(self._read())

    def _read(self) -> dict[bytes, np.ndarray]:
        """The vectors stored on disk; an unreadable file (e.g. half written) counts as empty."""
        if not (self.path and self.path.exists()):
            return {}
        try:
            with np.load(self.path) as data:
                return {bytes(k): row for k, row in zip(data["keys"], data["vectors"])}
        except Exception:  # noqa: BLE001 - a cache is never worth failing a run for
            return {}

    @staticmethod
    def _key(text: str) -> bytes:
        return hashlib.sha1(text.encode("utf-8")).digest()

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        missing = list(dict.fromkeys(i for i, k in enumerate(keys) if k not in self._cache))
        if missing:
            todo: dict[bytes, int] = {}
            for i in missing:
                todo.setdefault(keys[i], i)
            vectors = self.inner.embed_batch([texts[i] for i in todo.values()])
            for key, row in zip(todo, vectors):
                self._cache[key] = np.asarray(row, dtype=np.float32)
            self._dirty = True
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.stack([self._cache[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        if not (self.path and self._dirty):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for key, row in self._read().items():  # another run may have added vectors since we loaded
            self._cache.setdefault(key, row)
        keys = np.array(list(self._cache), dtype="S20")
        vectors = np.stack(list(self._cache.values())) if self._cache else np.zeros((0, self.dimensions))
        tmp = self.path.with_name(f"{self.path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors.astype(np.float32))
        tmp.replace(self.path)
        self._dirty = False


class TurnBaselines:
    """BM25 (bm25s, English stopwords, Snowball stemmer), dense (cosine) and RRF over one history's turns."""

    def __init__(self, history: History, embedder: Embedder) -> None:
        import bm25s
        import Stemmer

        self.turns: list[Turn] = []
        self.episodes: list[Episode] = []
        for session in history.sessions:
            for i, turn in enumerate(session.turns):
                self.turns.append(turn)
                self.episodes.append(turn_episode(turn, session.date + timedelta(seconds=i)))
        self.costs = [count_tokens(episode_body(e)) + 1 for e in self.episodes]
        self.days = [e.reference_time.date() for e in self.episodes]
        self.day_costs = [count_tokens(day_line(e.reference_time)) + 1 for e in self.episodes]
        self.overhead = count_tokens(BASELINE_TEMPLATE.replace("%{episodes}", ""))
        texts = [turn_text(t) for t in self.turns]
        self._stemmer = Stemmer.Stemmer("english")
        self._bm25s = bm25s
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False)
        self._bm25 = bm25s.BM25()
        self._bm25.index(tokens, show_progress=False)
        self._embedder = embedder
        self._matrix = np.asarray(embedder.embed_batch(texts), dtype=np.float32)

    def bm25(self, query: str) -> list[int]:
        """Turn indices with a positive BM25 score, best first."""
        q = self._bm25s.tokenize([query], stopwords="en", stemmer=self._stemmer, show_progress=False)
        if not q.ids or not q.ids[0]:
            return []
        docs, scores = self._bm25.retrieve(q, k=len(self.turns), show_progress=False)
        return [int(d) for d, s in zip(docs[0], scores[0]) if s > 0]

    def dense(self, qvec: np.ndarray) -> list[int]:
        """Every turn index by cosine similarity, best first (ties by position)."""
        sims = self._matrix @ np.asarray(qvec, dtype=np.float32)
        return [int(i) for i in np.argsort(-sims, kind="stable")]

    def block(self, order: Sequence[int], budget: int) -> tuple[list[int], int]:
        """The turns (indices) a block of ``budget`` tokens holds, and its tokens.

        The renderer's greedy rule is applied with cached token counts, then the chosen turns are
        rendered by ``render_context`` itself, which has the last word on what fits.
        """
        chosen = fill_budget(order, self.costs.__getitem__, budget, self.overhead,
                             group=self.days.__getitem__, group_cost=self.day_costs.__getitem__)
        out = render_context(BASELINE_TEMPLATE, ContextParts(episodes=[self.episodes[i] for i in chosen]), budget)
        kept = {e.uuid for e in out.episodes}
        return [i for i in chosen if self.turns[i].tid in kept], out.tokens

    def rankings(self, query: str) -> dict[str, list[int]]:
        """All three baselines' rankings for one question."""
        qvec = self._embedder.embed_batch([query])[0]
        bm25, dense = self.bm25(query), self.dense(qvec)
        return {"bm25": bm25, "dense": dense, "rrf": rrf_fuse([bm25, dense])}
