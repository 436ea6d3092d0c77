"""The retrieval's tuned constants, in one frozen dataclass that ``benchmarks.cv`` can sweep."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["Knobs"]


@dataclass(frozen=True)
class Knobs:
    """The retrieval's tuned constants, in one place so that ``benchmarks.cv`` can sweep them.

    Each was kept because it raised LoCoMo coverage under leave-one-conversation-out
    cross-validation without lowering LongMemEval (docs/BENCHMARKS.md); 0 turns a component off.
    """

    # Turns naming entities of the kind a question asks for ("which cities") join with type_weight.
    type_weight: float = 0.3
    # Episodes: the vector and the BM25 scores, each min-max normalised over its own hits, weighted
    # and summed (on LoCoMo this beat a reciprocal rank fusion of the two lists).
    dense_weight: float = 0.7
    bm25_weight: float = 1.0
    # A turn next to a strong hit is often what the hit answers or is answered by ("What did you
    # paint?" / "A lake sunrise"): the turns just before and after each of the strongest
    # ``neighbour_sources`` hits gain ``neighbour_weight`` of its score.
    neighbour_sources: int = 20
    neighbour_weight: float = 0.25
    # ... and when the query names a speaker, that speaker's own turns just before and after the other
    # speaker's neighbours of a strong hit of theirs (their story goes on after the reply) gain
    # ``own_turn_weight`` of its score.
    own_turn_weight: float = 0.25
    # When the query names someone who speaks, BM25 and the vector rank the question without the
    # name, and that speaker's turns gain ``speaker_boost`` of their own score, only those about the
    # question once the name is taken out: sharing a word with it, or a cosine of at least
    # ``speaker_gate_cos`` to it (a paraphrase: "children ... love" for "kids like"); a name alone
    # wins nothing ("Take care!").
    speaker_boost: float = 0.7
    speaker_gate_cos: float = 0.3
    # A query that names a calendar date ("on 3 June, 2023", "2023-06-03", "in June 2023") is about
    # that time: the episodes of that day (or month) gain ``date_boost`` on the fused scale (~0-1.7);
    # 0.8, chosen by the cross-validation in session 13 (0.6 before; 0.8-1.2 tie at 1,000 tokens).
    date_boost: float = 0.8
    # A question asking for several things ("What pets does Nate have?", "What do they both like?")
    # gathers news, which a session's first turns bring: the first two turns of each thread gain
    # ``opener_weight`` of their score.
    opener_weight: float = 0.3
    # A question dated by another event ("What did I buy before getting the Air Fryer?") selects that
    # side of it: the turn that best matches the event (BM25) dates it, and the candidates of its day
    # and of the days on the side asked about gain ``event_boost`` on the fused scale (~0-1.7).
    event_boost: float = 0.4
    # For a context block (not for search), a long episode must earn its tokens: its score is scaled
    # by (length_ref / length) ** length_alpha above length_ref characters.
    length_ref: int = 400
    length_alpha: float = 0.5
    # Facts: vector + BM25, plus the facts touching entities the query names (graph neighbourhood)
    # and the facts drawn from the best episodes, with these weights in the fusion.
    fact_graph_weight: float = 0.5
    fact_episode_weight: float = 0.7
    # A fact below ``fact_keep`` of the best fact's score gives way; ``fact_assistant`` 0 leaves out
    # facts drawn only from the assistant's own turns (advice, not the user's life).
    fact_keep: float = 0.5
    fact_assistant: int = 0
    # How many candidates a read ranks (its cost grows with them), as multiples of the retriever's
    # ``pool``: episodes (each of the vector and BM25 lists, and the date windows), facts (vector,
    # BM25, graph; facts of the best ``pool // 2`` episodes), entities and observations. A block
    # shows a few entities (the default template 5): ranking 10 instead of 40 gave the same
    # figures on LoCoMo and LongMemEval; fewer episodes (120, 100, 80) or facts (20) lost coverage.
    episode_pool_factor: float = 4.0
    fact_pool_factor: float = 1.0
    side_pool_factor: float = 0.25

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
