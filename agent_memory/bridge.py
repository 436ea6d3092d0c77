"""Call the public agent-memory API from sync and async adapter code, with the logic written once.

An adapter operation is a *flow*: a generator that yields ``Call(lambda api: api.thread.get(tid))``
and receives each result (or has the error thrown into it). The lambda names a real method of the
public API, so a type checker verifies the method and its arguments against both ``Memory`` and
``AsyncMemory`` (no dispatch by string). ``Bridge.run`` drives a flow with
blocking calls on a ``Memory``; ``Bridge.arun`` drives the same flow with awaited calls, natively
on an ``AsyncMemory`` or in a worker thread for a ``Memory``. This is the sans-I/O pattern of
httpx's ``Auth.auth_flow``: no logic is duplicated between the sync and async paths.

It is framework-free and lives in the core so that every adapter package shares one copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable, Generator
from typing import Any, NamedTuple, TypeVar

from .client import AsyncMemory, Memory
from .errors import AlreadyExistsError, InvalidInputError, ThreadNotFoundError, UserNotFoundError
from .models import Thread

__all__ = ["API", "Bridge", "Call", "Flow", "call", "ensure_thread", "ensure_user"]

T = TypeVar("T")
API = Memory | AsyncMemory


class Call(NamedTuple):
    """One call of the public API: ``run(memory)``, e.g. ``lambda api: api.thread.get(thread_id)``.

    On a ``Memory`` it returns the result; on an ``AsyncMemory`` the coroutine the bridge awaits.
    """

    run: Callable[[API], Any]


Flow = Generator[Call, Any, T]


def _call(run: Callable[[API], Any]) -> Call:
    return Call(run)


class Bridge:
    """Runs flows against a ``Memory`` (sync and async) or an ``AsyncMemory`` (async only)."""

    def __init__(self, memory: Memory | AsyncMemory) -> None:
        if not isinstance(memory, (Memory, AsyncMemory)):
            raise TypeError(f"expected an agent_memory Memory or AsyncMemory, got {type(memory).__name__}")
        self.memory = memory
        self.is_async = isinstance(memory, AsyncMemory)

    def call(self, call: Call) -> Any:
        """Make one blocking call; refuse on an AsyncMemory (never run an event loop inside sync code)."""
        if self.is_async:
            raise TypeError("this adapter was given an AsyncMemory, which has no blocking methods: use the "
                            "async entry points (ainvoke, aget, aput, ...) or pass a Memory instead")
        return call.run(self.memory)

    async def acall(self, call: Call) -> Any:
        """Make one awaited call: native on an AsyncMemory, in a worker thread for a Memory."""
        if self.is_async:
            pending = call.run(self.memory)
            return await pending if inspect.isawaitable(pending) else pending
        return await asyncio.to_thread(call.run, self.memory)

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
        yield _call(lambda api: api.user.get(user_id))
    except UserNotFoundError:
        with contextlib.suppress(AlreadyExistsError):
            yield _call(lambda api: api.user.add(user_id=user_id))


def ensure_thread(thread_id: str, user_id: str | None, *, create: bool = True) -> Flow[Thread]:
    """The thread, created (with its user) when missing and ``create`` is set and a user is known.

    Raises ThreadNotFoundError when it is missing and cannot be created, and InvalidInputError
    when it exists but belongs to another user than ``user_id``.
    """
    try:
        thread: Thread = yield _call(lambda api: api.thread.get(thread_id))
    except ThreadNotFoundError:
        if not create or user_id is None:
            raise
        yield from ensure_user(user_id)
        try:
            thread = yield _call(lambda api: api.thread.create(thread_id=thread_id, user_id=user_id))
        except AlreadyExistsError:
            thread = yield _call(lambda api: api.thread.get(thread_id))
    if user_id is not None and thread.user_id != user_id:
        raise InvalidInputError(f"thread {thread_id!r} belongs to user {thread.user_id!r}, not {user_id!r}",
                                thread_id=thread_id, user_id=user_id)
    return thread


def call(run: Callable[[API], Any]) -> Flow[Any]:
    """A flow of one call, for ``yield from``: ``x = yield from call(lambda api: api.graph.search(...))``."""
    result = yield _call(run)
    return result
