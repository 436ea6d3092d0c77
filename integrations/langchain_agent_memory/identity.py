"""Who a run is for: the user id (and thread id) from a LangChain/LangGraph run's config and context."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent_memory.errors import ConfigError

__all__ = ["AUTH_USER_KEY", "run_identity"]

AUTH_USER_KEY = "langgraph_auth_user_id"
"""Where LangGraph Agent Server puts the authenticated user (``config["configurable"]``)."""

_RUNTIME_KEY = "__pregel_runtime"  # langgraph's CONFIG_KEY_RUNTIME: the run's Runtime (its .context)


def _from_context(context: Any, name: str) -> Any:
    if context is None:
        return None
    if isinstance(context, Mapping):
        return context.get(name)
    return getattr(context, name, None)


def run_identity(config: Mapping[str, Any] | None, context: Any = None, default_user: str | None = None,
                 *, who: str = "the memory adapter") -> tuple[str, str | None]:
    """``(user_id, thread_id)`` of a run.

    The user: ``configurable["langgraph_auth_user_id"]`` (Agent Server's authenticated user) when set,
    else ``configurable["user_id"]``, else the run's ``context`` (LangChain v1 ``context=``: an
    attribute or key ``user_id``; read from the config's runtime when not passed), else
    ``default_user``. An explicit user id that differs from the authenticated one is refused.
    The thread: ``configurable["thread_id"]``, else ``context.thread_id``.
    """
    configurable = (config or {}).get("configurable") or {}
    if context is None:
        context = getattr(configurable.get(_RUNTIME_KEY), "context", None)
    auth = configurable.get(AUTH_USER_KEY)
    explicit = configurable.get("user_id") or _from_context(context, "user_id")
    if auth and explicit and str(auth) != str(explicit):
        raise ConfigError(f"this run is authenticated as {auth!r} but asks for user {explicit!r}; a run may "
                          "only use its authenticated user's memory")
    user_id = auth or explicit or default_user
    if not user_id:
        raise ConfigError(f"no user_id for this run: pass context={{'user_id': ...}} (or a context object with a "
                          f"user_id), config={{'configurable': {{'user_id': ...}}}}, or user_id= to {who}")
    thread_id = configurable.get("thread_id") or _from_context(context, "thread_id")
    return str(user_id), (str(thread_id) if thread_id else None)
