"""An in-process :class:`~agent_memory.llm.base.LLMClient` double: scripted answers, no network.

Use it to test code around ``Memory(llm=...)`` without a model or recorded traffic::

    llm = ScriptedLLM([{"messages": []}, {"summary": "Jane Smith lives in Denver.", "observations": []}])
    memory = Memory.ephemeral(llm=llm, embedder=HashEmbedder())

Each call takes the next queued answer: a pydantic instance, a dict validated into the requested
schema, an exception to raise, or a callable ``(messages, schema, name) -> answer``. With the
queue empty a call raises ``AssertionError`` ("unexpected model call"), so a test notices calls it
did not expect. Every call is kept in :attr:`ScriptedLLM.asked` and reported to ``on_call`` as one
:class:`~agent_memory.llm.base.CallRecord` (tokens as given to the constructor, 0 by default).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..llm.base import CallRecord, T

__all__ = ["ScriptedLLM"]


class ScriptedLLM:
    """Answers from a queue and remembers what it was asked; safe to call from the ingestion worker.

    Args:
        answers: the answers, in call order (see the module docstring).
        prompt_tokens: tokens reported per call, for accounting tests.
        completion_tokens: likewise.
    """

    def __init__(self, answers: Sequence[Any] | None = None, *, prompt_tokens: int = 0,
                 completion_tokens: int = 0) -> None:
        self.model = "scripted"
        self.on_call: Callable[[CallRecord], None] | None = None
        self.answers = list(answers or [])
        self.asked: list[tuple[list[dict[str, str]], type, str, list[str]]] = []
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ScriptedLLM({len(self.answers)} answers queued, {len(self.asked)} calls made)"

    @property
    def names(self) -> list[str]:
        """The purpose of each call made so far (``extract``, ``resolve``, ``summarize``...)."""
        return [name for _, _, name, _ in self.asked]

    def generate_structured(self, messages: list[dict[str, str]], schema: type[T], *, name: str,
                            episodes: Sequence[str] = ()) -> T:
        """The next queued answer, validated into ``schema``; raises it if it is an exception."""
        with self._lock:
            self.asked.append((messages, schema, name, list(episodes)))
            answer = self.answers.pop(0) if self.answers else AssertionError(f"unexpected model call: {name}")
        if callable(answer) and not isinstance(answer, (type, BaseException)):
            answer = answer(messages, schema, name)
        if isinstance(answer, BaseException):
            self._record(name, episodes, ok=False, error=f"{type(answer).__name__}: {answer}")
            raise answer
        result = answer if isinstance(answer, schema) else schema.model_validate(answer)
        self._record(name, episodes, ok=True)
        return result

    def _record(self, name: str, episodes: Sequence[str], *, ok: bool, error: str | None = None) -> None:
        if self.on_call is not None:
            self.on_call(CallRecord(purpose=name, model=self.model, ok=ok, error=error, episodes=list(episodes),
                                    prompt_tokens=self.prompt_tokens if ok else 0,
                                    completion_tokens=self.completion_tokens if ok else 0))
