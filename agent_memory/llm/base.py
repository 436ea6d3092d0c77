"""The LLMClient protocol and the per-attempt accounting record it emits.

A client turns chat messages into a validated pydantic object (``generate_structured``) and
reports every HTTP attempt, failed and retried ones included, as one :class:`CallRecord`
through its ``on_call`` hook, which the core sets to persist accounting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, Field

__all__ = ["CallRecord", "LLMClient", "T"]

T = TypeVar("T", bound=BaseModel)


class CallRecord(BaseModel):
    """One HTTP attempt against a model: what it was for, what it cost, how it went.

    Attributes:
        purpose: the task, e.g. ``"extract"``, ``"resolve"``, ``"summarize"``.
        model: the model (or Azure deployment) asked.
        prompt_tokens: prompt tokens the provider reported (0 when the attempt failed).
        completion_tokens: completion tokens the provider reported (0 when the attempt failed).
        latency_ms: wall time of the HTTP attempt.
        ok: True when the attempt returned output that validated.
        error: what went wrong otherwise (HTTP status, rate limit, invalid output).
        episodes: the episode uuids the call served.
        attempt: 1-based attempt number within one ``generate_structured`` call.
    """

    purpose: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    ok: bool = True
    error: str | None = None
    episodes: list[str] = Field(default_factory=list)
    attempt: int = 1


@runtime_checkable
class LLMClient(Protocol):
    """A chat model that answers with JSON validated into a pydantic model.

    Attributes:
        model: the model name, recorded in every :class:`CallRecord`.
        on_call: called with one :class:`CallRecord` per HTTP attempt, or None.
    """

    model: str
    on_call: Callable[[CallRecord], None] | None

    def generate_structured(
        self,
        messages: list[dict[str, str]],
        schema: type[T],
        *,
        name: str,
        episodes: Sequence[str] = (),
    ) -> T:
        """Answer ``messages`` with an instance of ``schema``.

        Args:
            messages: chat messages (``role``/``content``).
            schema: the pydantic model the answer must validate into.
            name: the task name, used as the schema name and the records' ``purpose``.
            episodes: episode uuids this call serves, for accounting.

        Raises:
            LLMResponseError: the output did not validate, even after one corrective retry.
            RateLimitError: still rate limited after the retries.
            ProviderError: any other provider failure.
        """
        ...
