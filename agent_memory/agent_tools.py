"""Memory tools an agent calls itself: search memory, and save, update or forget a memory.

Framework-free flows (see ``bridge``) shared by the LangChain/LangGraph tools and the LlamaIndex
``FunctionTool``s, so both behave the same. LangMem's ``search_memory``/``manage_memory`` are the
model: the same names and arguments.

- A *memory id* is the id of the episode that holds it (a saved memory, or a message of a
  conversation), or ``fact:<uuid>`` for a fact the graph learned.
- ``update`` replaces: the old record is forgotten (``graph.delete_episode``: its text, vectors and
  the facts only it stated), then the new text is saved. ``delete`` forgets. Forgetting a fact
  forgets the records that stated it.
- Every call is scoped to one user: an id of another user's record is "not found".
"""

from __future__ import annotations

import json
from typing import Any, Literal

from .bridge import Flow, call, ensure_user
from .errors import EpisodeNotFoundError, InvalidInputError
from .models import Episode, Fact, SearchResult

__all__ = [
    "MANAGE_MEMORY_DESCRIPTION",
    "SAVED_MARKER",
    "SEARCH_MEMORY_DESCRIPTION",
    "Action",
    "manage_memory",
    "search_memory",
]

Action = Literal["create", "update", "delete"]

SAVED_MARKER = "agent_memory_tool"
"""Metadata key of the episodes saved through ``manage_memory``."""

SEARCH_MEMORY_DESCRIPTION = (
    "Search the user's long-term memory: facts learned in past conversations and memories saved earlier. "
    "Returns a JSON list of the best matches, each with an id (for manage_memory), the text, its kind, "
    "its date and a relevance from 0 (unrelated) to 1 (same meaning).")
MANAGE_MEMORY_DESCRIPTION = (
    "Save, update or forget a memory about the user. action='create' with content saves a new memory; "
    "action='update' with id and content replaces that memory; action='delete' with id forgets it "
    "(use it when the user asks you to forget something). Ids come from search_memory.")

_FACT = "fact:"
_PAGE = 1000


def _date(ts: Any) -> str | None:
    return ts.date().isoformat() if ts is not None else None


def _hit(result: SearchResult) -> dict[str, Any]:
    relevance = round(float(result.relevance or 0.0), 3)
    if result.fact is not None:
        f = result.fact
        return {"id": _FACT + f.uuid, "kind": "fact", "text": f.fact, "since": _date(f.valid_at),
                "relevance": relevance}
    ep = result.episode
    assert ep is not None, "search_memory asks for facts and episodes only"
    kind = "saved" if SAVED_MARKER in ep.metadata else ("message" if ep.source.value == "message" else ep.source.value)
    return {"id": ep.uuid, "kind": kind, "text": ep.content, "date": _date(ep.reference_time),
            "relevance": relevance}


def search_memory(user_id: str, query: str, limit: int = 5) -> Flow[str]:
    """The best facts and records for ``query``, merged on relevance, as a JSON list."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError("search_memory needs a non-empty query")
    if not isinstance(limit, int) or not 1 <= limit <= 50:
        raise InvalidInputError(f"limit must be from 1 to 50, got {limit!r}")
    yield from ensure_user(user_id)
    facts: list[SearchResult] = yield from call(lambda api: api.graph.search(
        user_id=user_id, query=query, scope="edges", limit=limit, filters={"valid_only": True}, relevance=True))
    episodes: list[SearchResult] = yield from call(lambda api: api.graph.search(user_id=user_id, query=query,
                                                   scope="episodes", limit=limit, relevance=True))
    hits = sorted([*facts, *episodes], key=lambda r: r.relevance or 0.0, reverse=True)[:limit]
    return json.dumps([_hit(h) for h in hits], ensure_ascii=False)


def _fact(user_id: str, uuid: str) -> Flow[Fact | None]:
    offset = 0
    while True:
        page: list[Fact] = yield from call(lambda api: api.graph.facts(user_id=user_id, limit=_PAGE, offset=offset))
        for f in page:
            if f.uuid == uuid:
                return f
        if len(page) < _PAGE:
            return None
        offset += _PAGE


def _forget(user_id: str, memory_id: str) -> Flow[int]:
    """Delete the record(s) behind ``memory_id``; how many. Raises InvalidInputError when not found."""
    if memory_id.startswith(_FACT):
        fact = yield from _fact(user_id, memory_id[len(_FACT):])
        if fact is None:
            raise InvalidInputError(f"no memory with id {memory_id!r}; search_memory gives the ids")
        for uuid in fact.episodes:
            try:
                yield from call(lambda api: api.graph.delete_episode(user_id=user_id, uuid=uuid))
            except EpisodeNotFoundError:
                continue
        return len(fact.episodes)
    try:
        yield from call(lambda api: api.graph.delete_episode(user_id=user_id, uuid=memory_id))
    except EpisodeNotFoundError:
        raise InvalidInputError(f"no memory with id {memory_id!r}; search_memory gives the ids") from None
    return 1


def manage_memory(user_id: str, action: str = "create", content: str | None = None,
                  id: str | None = None, *, max_chars: int | None = None) -> Flow[str]:  # noqa: A002 - LangMem's name
    """Create, update (replace) or delete one memory of ``user_id``; a one-line confirmation."""
    if action not in ("create", "update", "delete"):
        raise InvalidInputError(f"action must be 'create', 'update' or 'delete', got {action!r}")
    if action in ("create", "update"):
        if not isinstance(content, str) or not content.strip():
            raise InvalidInputError(f"action={action!r} needs the memory's content")
        if max_chars is not None and len(content) > max_chars:
            raise InvalidInputError(f"content has {len(content):,} characters, over the limit of {max_chars:,}")
    if action in ("update", "delete") and not id:
        raise InvalidInputError(f"action={action!r} needs the id of the memory (from search_memory)")
    yield from ensure_user(user_id)
    if action == "delete":
        yield from _forget(user_id, str(id))
        return f"Forgot memory {id}."
    if action == "update":
        yield from _forget(user_id, str(id))  # retract first: what only the old record said is gone
    text = str(content)  # checked above for create and update
    saved: Episode = yield from call(lambda api: api.graph.add(user_id=user_id, type="text", data=text,
                                                               metadata={SAVED_MARKER: {"action": action}}))
    return f"Saved memory {saved.uuid}." if action == "create" else f"Updated memory {id}; its new id is {saved.uuid}."
