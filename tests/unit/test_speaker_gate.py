"""A named speaker's turn that answers the question in other words counts as about it (real MiniLM)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from agent_memory import Memory, Message

DAY = datetime(2023, 6, 1, 10, 0, tzinfo=timezone.utc)
TURNS = [
    ("Caroline", "Kids are such fun, mine like the swings the most."),
    ("Melanie", "Thanks for asking! Work has been busy but I'm hanging in there."),
    ("Melanie", "The children were thrilled by the dinosaur exhibit, they love learning about animals."),
    ("Caroline", "My kids like the playground near our flat, they beg to go every afternoon."),
    ("Melanie", "Take care, talk soon!"),
]


def _ranked(real_embedder: Any, gate: float) -> list[str]:
    with Memory.ephemeral(embedder=real_embedder, llm=None) as memory:
        memory.user.add(user_id="jane")
        memory.thread.create(thread_id="s1", user_id="jane")
        memory.thread.add_messages("s1", messages=[
            Message(role="user", name=who, content=text, created_at=DAY + timedelta(minutes=i))
            for i, (who, text) in enumerate(TURNS)])
        retriever = memory._core.retriever
        retriever.knobs = replace(retriever.knobs, speaker_gate_cos=gate)
        return [e.content for e, _ in retriever.candidates("jane", "What do Melanie's kids like?",
                                                           kinds=("episode",)).episodes]


def test_the_speakers_answer_in_other_words_gains_the_speaker_boost(real_embedder: Any) -> None:
    # "kids like" is said only by Caroline; Melanie's answer says "children ... love" and shares no word
    answer, small_talk = TURNS[2][1], TURNS[4][1]
    gated, ungated = _ranked(real_embedder, gate=0.3), _ranked(real_embedder, gate=0.0)
    assert gated.index(answer) < gated.index(TURNS[3][1])  # now above Caroline's "my kids like ..."
    assert gated.index(answer) < ungated.index(answer)
    assert gated[-1] == small_talk  # a sign-off gains nothing from the name
