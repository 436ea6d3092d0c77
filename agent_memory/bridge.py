"""Call the public agent-memory API from sync and async adapter code, with the logic written once.

An adapter operation is a *flow*: a generator that yields ``Call(namespace, method, args, kwargs)``
and receives each result (or has the error thrown into it). ``Bridge.run`` drives a flow with
blocking calls on a ``Memory``; ``Bridge.arun`` drives the same flow with awaited calls, natively
on an ``AsyncMemory`` or in a worker thread for a ``Memory``. This is the sans-I/O pattern of
httpx's ``Auth.auth_flow``: no logic is duplicated between the sync and async paths.

It is framework-free and lives in the core so that every adapter package shares one copy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from typing import Any, NamedTuple, TypeVar

from .client import AsyncMemory, Memory
from .errors import AlreadyExistsError, InvalidInputError, ThreadNotFoundError, UserNotFoundError
from .models import Thread

__all__ = ["Bridge", "Call", "Flow", "call", "ensure_thread", "ensure_user"]

T = TypeVar("T")


class Call(NamedTuple):
    """One call of the public API: ``memory.<namespace>.<method>(*args, **kwargs)``.

    ``namespace`` is ``user``, ``thread``, ``graph`` or ``context``; an empty namespace calls a
    method of the memory itself (``wait_until_processed``).
    """

    namespace: str
    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}


Flow = Generator[Call, Any, T]


def _call(namespace: str, method: str, *args: Any, **kwargs: Any) -> Call:
    return Call(namespace, method, args, kwargs)


class Bridge:
    """Runs flows against a ``Memory`` (sync and async) or an ``AsyncMemory`` (async only)."""

    def __init__(self, memory: Memory | AsyncMemory) -> None:
        if not isinstance(memory, (Memory, AsyncMemory)):
            raise TypeError(f"expected an agent_memory Memory or AsyncMemory, got {type(memory).__name__}")
        self.memory = memory
        self.is_async = isinstance(memory, AsyncMemory)

    def _target(self, call: Call) -> Any:
        owner = getattr(self.memory, call.namespace) if call.namespace else self.memory
        return getattr(owner, call.method)

    def call(self, call: Call) -> Any:
        """Make one blocking call; refuse on an AsyncMemory (never run an event loop inside sync code)."""
        if self.is_async:
            raise TypeError("this adapter was given an AsyncMemory, which has no blocking methods: use the "
                            "async entry points (ainvoke, aget, aput, ...) or pass a Memory instead")
        return self._target(call)(*call.args, **call.kwargs)

    async def acall(self, call: Call) -> Any:
        """Make one awaited call: native on an AsyncMemory, in a worker thread for a Memory."""
        fn = self._target(call)
        if self.is_async:
            return await fn(*call.args, **call.kwargs)
        return await asyncio.to_thread(fn, *call.args, **call.kwargs)

    def run(self, flow: Flow[T]) -> T:
        """Drive ``flow`` with blocking calls and return its result."""
        step = flow.send
        value: Any = None
        while True:
            try:
                call = step(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            try:
                value, step = self.call(call), flow.send
            except Exception as exc:  # the flow decides: handle, or let it propagate
                value, step = exc, flow.throw

    async def arun(self, flow: Flow[T]) -> T:
        """Drive ``flow`` with awaited calls and return its result."""
        step = flow.send
        value: Any = None
        while True:
            try:
                call = step(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            try:
                value, step = await self.acall(call), flow.send
            except Exception as exc:
                value, step = exc, flow.throw


# -- shared flows -------------------------------------------------------------------------------
def ensure_user(user_id: str) -> Flow[None]:
    """Create the user if it does not exist yet (a concurrent creation is fine)."""
    try:
        yield _call("user", "get", user_id)
    except UserNotFoundError:
        with contextlib.suppress(AlreadyExistsError):
            yield _call("user", "add", user_id=user_id)


def ensure_thread(thread_id: str, user_id: str | None, *, create: bool = True) -> Flow[Thread]:
    """The thread, created (with its user) when missing and ``create`` is set and a user is known.

    Raises ThreadNotFoundError when it is missing and cannot be created, and InvalidInputError
    when it exists but belongs to another user than ``user_id``.
    """
    try:
        thread: Thread = yield _call("thread", "get", thread_id)
    except ThreadNotFoundError:
        if not create or user_id is None:
            raise
        yield from ensure_user(user_id)
        try:
            thread = yield _call("thread", "create", thread_id=thread_id, user_id=user_id)
        except AlreadyExistsError:
            thread = yield _call("thread", "get", thread_id)
    if user_id is not None and thread.user_id != user_id:
        raise InvalidInputError(f"thread {thread_id!r} belongs to user {thread.user_id!r}, not {user_id!r}",
                                thread_id=thread_id, user_id=user_id)
    return thread


def call(namespace: str, method: str, *args: Any, **kwargs: Any) -> Flow[Any]:
    """A flow of one call, for ``yield from``."""
    result = yield _call(namespace, method, *args, **kwargs)
    return result
