"""The episode ranking's rescoring steps: what a first ranking (vector + BM25) misses about a turn.

Each step adds to or multiplies the fused scores of one read (``Rescoring.scores``): a strong hit's
neighbours, the days a question names or is dated by, who said it, a session's first turns. They read
only through the store protocol, heads (who, when, how long) rather than whole episodes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..models import Episode
from ..storage.base import EpisodeHead, GraphStore
from ..text import normalize_name
from .fusion import own_turns_around
from .knobs import Knobs

__all__ = ["Rescoring"]

_FETCH_WINDOW = timedelta(days=12)  # a time window this short brings in all its episodes

# reads the heads of ``ids`` missing from ``heads`` into it (the memo's, those in ``got``, else one read)
ReadHeads = Callable[[dict[str, EpisodeHead], Iterable[str], dict[str, EpisodeHead]], None]


@dataclass
class Rescoring:
    """One read's episode scores and what it has read so far, with the steps that rescore them.

    ``heads``: the ranked episodes' heads; ``full``: whole episodes read on the way (neighbours, a
    date's turns); ``got``: heads that came with searches and neighbour reads (no read needed).
    """

    store: GraphStore
    user_id: str
    knobs: Knobs
    read_heads: ReadHeads
    scores: dict[str, float]
    heads: dict[str, EpisodeHead]
    got: dict[str, EpisodeHead]
    full: dict[str, Episode] = field(default_factory=dict)

    def neighbours(self, fused: dict[str, float], ranked: Sequence[str], speakers: set[str]) -> None:
        """A strong hit's neighbouring turns gain a share of its score (an answer follows its question);
        a named speaker's own turns on either side of their hit, two steps away in a chat, gain too."""
        kn = self.knobs
        if not (kn.neighbour_weight and kn.neighbour_sources):
            return
        sources = [uid for uid in ranked[:kn.neighbour_sources] if uid in self.heads]
        adjacent, found = self.store.adjacent_with_heads(self.user_id, sources)  # one read for all of them
        self.got.update(found)
        for uid in sources:
            for nb in adjacent.get(uid, []):
                self._add(nb.uuid, kn.neighbour_weight * fused[uid])
                self.full.setdefault(nb.uuid, nb)
        if not (kn.own_turn_weight and speakers):
            return
        own = [uid for uid in sources
               if self.heads[uid].name and normalize_name(self.heads[uid].name or "") in speakers]
        around = [nb.uuid for uid in own for nb in adjacent.get(uid, [])]
        beyond, found = self.store.adjacent_with_heads(self.user_id, around) if around else ({}, {})
        self.got.update(found)
        for uid in own:
            for ep in own_turns_around(uid, self.heads[uid].name, adjacent.get(uid, []), beyond):
                self._add(ep.uuid, kn.own_turn_weight * fused[uid])
                self.full.setdefault(ep.uuid, ep)

    def dates(self, windows: Sequence[tuple[datetime, datetime]], pool: int) -> None:
        """A question about a time selects it: the episodes of the times it names (those found, and every
        one of a window of a few days) gain ``date_boost``; the content orders them. Reads the heads of
        every episode met so far, so call it after the steps that bring episodes in."""
        for start, end in windows:
            if end - start <= _FETCH_WINDOW:
                for ep in self.store.list_episodes(self.user_id, since=start, until=end, limit=pool):
                    self.full.setdefault(ep.uuid, ep)
        self.read_heads(self.heads, self.full, self.got)
        if windows:
            for uid, h in self.heads.items():
                if any(s <= h.reference_time < e for s, e in windows):
                    self._add(uid, self.knobs.date_boost)

    def event(self, dated: tuple[str | None, dict[str, EpisodeHead]], side: str) -> None:
        """"before getting the Air Fryer": the turn that best matches the event (``dated``, with the heads
        that came with its search) dates it; the candidates on the side asked about, its day included,
        gain ``event_boost``."""
        turn, found = dated
        self.got.update(found)
        if turn is None:
            return
        self.read_heads(self.heads, [turn], self.got)
        if turn not in self.heads:
            return
        day = self.heads[turn].reference_time.date()
        for uid, h in self.heads.items():
            when = h.reference_time.date()
            if uid in self.scores and (when <= day if side == "before" else when >= day):
                self.scores[uid] += self.knobs.event_boost

    def speaker(self, speakers: set[str], about: dict[str, float]) -> None:
        """Who said it filters among turns about the question (``about``): a turn of the speaker's that
        shares nothing with the question ("Take care!") gains nothing from the name."""
        for uid, h in self.heads.items():
            if h.name and uid in self.scores and normalize_name(h.name) in speakers and uid in about:
                self.scores[uid] *= 1.0 + self.knobs.speaker_boost

    def openers(self, best_of: int) -> None:
        """A question asking for several things ("What pets does Nate have?") gathers news, which the first
        turns of a session bring ("since we last talked, I adopted a puppy"): a thread's first two turns
        among the best ``best_of`` candidates (those a gain can bring into a block) gain ``opener_weight``."""
        best = sorted(self.scores, key=self.scores.__getitem__, reverse=True)[:best_of]
        threads = sorted({hd.thread_id for uid in best if (hd := self.heads.get(uid)) is not None and hd.thread_id})
        openers = self.store.thread_openers(self.user_id, threads, 2) if threads else {}
        for uid in {u for first in openers.values() for u in first} & set(best):
            self.scores[uid] *= 1.0 + self.knobs.opener_weight

    def _add(self, uid: str, gain: float) -> None:
        self.scores[uid] = self.scores.get(uid, 0.0) + gain
