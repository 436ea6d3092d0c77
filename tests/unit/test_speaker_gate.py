"""A named speaker's turn that answers the question in other words still counts as about it (real MiniLM)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from agent_memory import Memory, Message

DAY = datetime(2023, 6, 1, 10, 0, tzinfo=timezone.utc)


def _ranked(real_embedder: Any, gate: int) -> list[str]:
    turns = [
        ("Caroline", "My kids adore the playground near our flat, they beg to go every afternoon."),
        ("Melanie", "Thanks for asking! Work has been busy but I'm hanging in there."),
        ("Melanie", "They were stoked for the dinosaur exhibit, they love learning about animals and bones."),
        ("Caroline", "Kids are such fun, mine like the swings the most."),
        ("Melanie", "Take care, talk soon!"),
    ]
    with Memory.ephemeral(embedder=real_embedder, llm=None) as memory:
        memory.user.add(user_id="jane")
        memory.thread.create(thread_id="s1", user_id="jane")
        memory.thread.add_messages("s1", messages=[
            Message(role="user", name=who, content=text, created_at=DAY + timedelta(minutes=i))
            for i, (who, text) in enumerate(turns)])
        retriever = memory._core.retriever
        retriever.knobs = replace(retriever.knobs, speaker_gate_dense=gate)
        cands = retriever.candidates("jane", "What do Melanie's kids like?", kinds=("episode",))
        return [e.content for e, _ in cands.episodes]


def test_the_speakers_answer_in_other_words_gains_the_speaker_boost(real_embedder: Any) -> None:
    # "kids like" appears only in Caroline's turns; Melanie's answer says "they love ... animals"
    with_gate = _ranked(real_embedder, gate=40)
    assert with_gate[0].startswith("They were stoked")
    assert with_gate.index("Take care, talk soon!") > with_gate.index(with_gate[0])
