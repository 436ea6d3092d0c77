"""A LangGraph ``BaseStore`` kept in agent-memory users' graphs, searched by hybrid retrieval.

How items map onto the public agent-memory API:

- **Owner.** Each item lives in one user's graph. With ``user_id=`` set, every item goes to that
  user (the store is a view of one user's memory). Otherwise the owner is the *first label of
  the namespace that names an existing user* (so ``("memories", "jane")`` lands in Jane's graph
  and feeds her context block), and items whose namespace names no user go to
  ``default_user_id`` (created on first write). Create the user before writing under a namespace
  that should belong to them.
- **Item.** One JSON episode (``graph.add(type="json")``) holding the value, in a thread of its
  own whose id is a hash of the namespace and key (``lgstore-...``). The episode's ``metadata``
  records the namespace, the key and the item's insertion order. ``get`` reads that single
  episode back, so values round-trip exactly as JSON (``json.loads(json.dumps(value))``).
  Values must be JSON-serialisable and within ``MemoryConfig.max_content_chars`` when dumped.
- **Overwrite and delete.** The public API has no per-episode delete; deleting the item's thread
  (``thread.delete``) removes its episode, so ``put`` replaces the thread and ``delete`` removes it.
  As everywhere in agent-memory, what the graph *learned* from a value (facts, entities) stays.
- **Search.** Candidates are all items under the namespace prefix that pass ``filter`` (operators
  ``$eq $ne $gt $gte $lt $lte``, nested dicts, lists, as ``InMemoryStore``). With a ``query`` they are
  ranked by the owner's hybrid retrieval over episodes (``graph.search(scope="episodes")``), and
  ``SearchItem.score`` is that fused score (higher is better; not a cosine); items put with
  ``index=False`` or outside the retrieval pool come last with ``score=None``. Without a query,
  items come in insertion order (namespace first seen, then key first put), like ``InMemoryStore``.
- **Cost.** ``get``, ``put`` and ``delete`` are a few indexed lookups. ``search`` and
  ``list_namespaces`` read the JSON episodes of the owner(s): of one user with ``user_id=`` set,
  of every user otherwise.
- **Batches.** As in ``InMemoryStore``, reads in a batch see the state before the batch's writes,
  and writes to the same ``(namespace, key)`` are deduplicated (last one wins).
- **Not supported:** TTL (``supports_ttl = False``), per-field embedding (``index`` lists are
  stored but the whole value is indexed).

Divergence from ``InMemoryStore`` (deliberate): ``list_namespaces`` lists only namespaces that
hold at least one item; ``InMemoryStore`` also lists a namespace that was merely read, or whose
items were all deleted.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

from agent_memory import AsyncMemory, Memory
from agent_memory.bridge import Bridge, Flow, call, ensure_user
from agent_memory.errors import (
    ContentTooLargeError,
    InvalidInputError,
    ThreadNotFoundError,
    UserNotFoundError,
)
from agent_memory.models import Episode, Thread, User

__all__ = ["STORE_MARKER", "AgentMemoryStore", "matches_filter"]

STORE_MARKER = "langgraph_store"
"""Key of the episode and thread metadata that marks (and describes) a store item."""

_PAGE = 1000


# -- filters and namespace matching (the semantics of InMemoryStore, written for this store) -------
def _apply_operator(value: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return bool(value == operand)
    if operator == "$ne":
        return bool(value != operand)
    if operator in ("$gt", "$gte", "$lt", "$lte"):
        if value is None:
            return False
        try:
            left, right = float(value), float(operand)
        except (TypeError, ValueError):
            return False
        outcomes = {"$gt": left > right, "$gte": left >= right, "$lt": left < right, "$lte": left <= right}
        return outcomes[operator]
    raise ValueError(f"Unsupported operator: {operator}")


def _compare(value: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        if any(k.startswith("$") for k in expected):
            return all(_apply_operator(value, op, operand) for op, operand in expected.items())
        return isinstance(value, dict) and all(_compare(value.get(k), v) for k, v in expected.items())
    if isinstance(expected, (list, tuple)):
        return (isinstance(value, (list, tuple)) and len(value) == len(expected)
                and all(_compare(a, b) for a, b in zip(value, expected, strict=True)))
    return bool(value == expected)


def matches_filter(value: Mapping[str, Any], flt: Mapping[str, Any] | None) -> bool:
    """Whether an item's value passes a LangGraph store filter (JSONB-like, as ``InMemoryStore``)."""
    return not flt or all(_compare(value.get(k), v) for k, v in flt.items())


def _matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    if condition.match_type == "prefix":
        pairs = zip(namespace, path, strict=False)
    elif condition.match_type == "suffix":
        pairs = zip(reversed(namespace), reversed(path), strict=False)
    else:
        raise ValueError(f"Unsupported match type: {condition.match_type}")
    return all(p == "*" or n == p for n, p in pairs)


class _Stored:
    """An item read back from its episode."""

    __slots__ = ("episode", "index", "item", "order")

    def __init__(self, item: Item, order: int, index: Any, episode: Episode) -> None:
        self.item, self.order, self.index, self.episode = item, order, index, episode


class AgentMemoryStore(BaseStore):
    """LangGraph long-term memory store kept in agent-memory: items become part of users' graphs.

    Setup:
        ``pip install "agent-memory[langgraph]"``

    Key init args:
        memory: a ``Memory`` (sync and async methods) or an ``AsyncMemory`` (async methods only).
        user_id: put every item in this user's graph (created on first write). Default: per item,
            the first namespace label that names an existing user, else ``default_user_id``.
        default_user_id: owner of items whose namespace names no user.

    Usage:
        .. code-block:: python

            store = AgentMemoryStore(memory)
            memory.user.add(user_id="jane")
            store.put(("memories", "jane"), "food", {"text": "Jane is vegetarian"})
            store.search(("memories", "jane"), query="what does Jane eat?", limit=3)
            graph = builder.compile(checkpointer=InMemorySaver(), store=store)

    Async:
        ``abatch`` (and so ``aget``, ``aput``, ``asearch``, ...) is native: awaited on an
        ``AsyncMemory``, in a worker thread on a ``Memory``.

    See the module docstring for the mapping, search ranking and the one divergence from
    ``InMemoryStore``.
    """

    supports_ttl: bool = False

    def __init__(self, memory: Memory | AsyncMemory, *, user_id: str | None = None,
                 default_user_id: str = "langgraph_store") -> None:
        """Wrap ``memory`` (see the class docstring for the arguments)."""
        self._bridge = Bridge(memory)
        self.memory = memory
        self.user_id = user_id
        self.default_user_id = default_user_id

    def __repr__(self) -> str:
        return f"AgentMemoryStore(user_id={self.user_id!r}, default_user_id={self.default_user_id!r})"

    # -- BaseStore ------------------------------------------------------------------------------
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations in order (reads see the state before the batch's puts)."""
        return self._bridge.run(self._batch(list(ops)))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations in order (reads see the state before the batch's puts)."""
        return await self._bridge.arun(self._batch(list(ops)))

    # -- naming ---------------------------------------------------------------------------------
    def thread_id_for(self, namespace: Sequence[str], key: str) -> str:
        """The id of the thread that holds an item (stable; scoped to ``user_id`` when set)."""
        raw = json.dumps([self.user_id, list(namespace), key], ensure_ascii=False, separators=(",", ":"))
        return "lgstore-" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:40]

    def _read(self, episode: Episode) -> _Stored | None:
        meta = episode.metadata.get(STORE_MARKER)
        if not isinstance(meta, dict):
            return None
        namespace, key = tuple(meta.get("namespace") or ()), meta.get("key")
        if not namespace or not isinstance(key, str):
            return None
        if episode.thread_id != self.thread_id_for(namespace, key):
            return None  # an item of a store in another mode (user_id set or not)
        value = json.loads(episode.content)
        ts: datetime = episode.reference_time
        item = Item(value=value, key=key, namespace=namespace, created_at=ts, updated_at=ts)
        return _Stored(item, int(meta.get("order", 0)), meta.get("index"), episode)

    # -- flows ----------------------------------------------------------------------------------
    def _batch(self, ops: list[Op]) -> Flow[list[Result]]:
        results: list[Result] = []
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for op in ops:
            if isinstance(op, GetOp):
                results.append((yield from self._get(tuple(op.namespace), op.key)))
            elif isinstance(op, SearchOp):
                results.append((yield from self._search(op)))
            elif isinstance(op, ListNamespacesOp):
                results.append((yield from self._list_namespaces(op)))
            elif isinstance(op, PutOp):
                puts[(tuple(op.namespace), op.key)] = op  # last write wins
                results.append(None)
            else:
                raise ValueError(f"Unknown operation type: {type(op)}")
        for op in puts.values():
            yield from self._put(op)
        return results

    def _item_thread(self, namespace: tuple[str, ...], key: str) -> Flow[Thread | None]:
        try:
            thread: Thread = yield from call(lambda api: api.thread.get(self.thread_id_for(namespace, key)))
        except ThreadNotFoundError:
            return None
        return thread

    def _stored(self, namespace: tuple[str, ...], key: str) -> Flow[_Stored | None]:
        thread = yield from self._item_thread(namespace, key)
        if thread is None:
            return None
        episodes: list[Episode] = yield from call(lambda api: api.graph.episodes(user_id=thread.user_id,
                                                  thread_id=thread.thread_id, limit=1))
        return self._read(episodes[0]) if episodes else None

    def _get(self, namespace: tuple[str, ...], key: str) -> Flow[Item | None]:
        stored = yield from self._stored(namespace, key)
        return stored.item if stored else None

    def _owner(self, namespace: tuple[str, ...]) -> Flow[str]:
        if self.user_id is not None:
            yield from ensure_user(self.user_id)
            return self.user_id
        for label in namespace:
            try:
                yield from call(lambda api: api.user.get(label))
                return label
            except (UserNotFoundError, InvalidInputError):
                continue
        yield from ensure_user(self.default_user_id)
        return self.default_user_id

    def _put(self, op: PutOp) -> Flow[None]:
        namespace, key = tuple(op.namespace), op.key
        data = None
        if op.value is not None:  # validate before touching the old item
            try:
                data = json.dumps(dict(op.value), ensure_ascii=False)
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(f"store values must be JSON-serialisable: {exc}") from exc
            limit = self.memory.config.max_content_chars
            if len(data) > limit:
                raise ContentTooLargeError(
                    f"the value of {namespace}/{key} is {len(data):,} characters as JSON, "
                    f"over the limit of {limit:,} (MemoryConfig.max_content_chars)")
        order = time.time_ns()
        thread = yield from self._item_thread(namespace, key)
        if thread is not None:
            episodes: list[Episode] = yield from call(lambda api: api.graph.episodes(user_id=thread.user_id,
                                                      thread_id=thread.thread_id, limit=1))
            old = self._read(episodes[0]) if episodes else None
            if old is not None:
                order = old.order  # an overwritten key keeps its place, as in InMemoryStore
            yield from call(lambda api: api.thread.delete(thread.thread_id))
        if data is None:
            return
        owner = yield from self._owner(namespace)
        marker = {"namespace": list(namespace), "key": key}
        tid = self.thread_id_for(namespace, key)
        yield from call(lambda api: api.thread.create(thread_id=tid, user_id=owner, metadata={STORE_MARKER: marker}))
        index = op.index if op.index is None or op.index is False else list(op.index)
        yield from call(lambda api: api.graph.add(user_id=owner, type="json", data=data, thread_id=tid,
                        metadata={STORE_MARKER: {**marker, "order": order, "index": index}}))

    def _owners(self) -> Flow[list[str]]:
        if self.user_id is not None:
            return [self.user_id]
        owners: list[str] = []
        while True:
            page: list[User] = yield from call(lambda api: api.user.list(limit=_PAGE, offset=len(owners)))
            owners.extend(u.user_id for u in page)
            if len(page) < _PAGE:
                return owners

    def _scan(self, prefix: tuple[str, ...] = ()) -> Flow[list[_Stored]]:
        """Every item under ``prefix``, in insertion order (namespace first seen, then key)."""
        found: list[_Stored] = []
        owners = yield from self._owners()
        for owner in owners:
            offset = 0
            while True:
                try:
                    page: list[Episode] = yield from call(lambda api: api.graph.episodes(user_id=owner, source="json",
                                                          limit=_PAGE, offset=offset))
                except UserNotFoundError:
                    break
                for episode in page:
                    stored = self._read(episode)
                    if stored is not None and stored.item.namespace[: len(prefix)] == prefix:
                        found.append(stored)
                if len(page) < _PAGE:
                    break
                offset += _PAGE
        first_seen: dict[tuple[str, ...], int] = {}
        for s in found:
            ns = s.item.namespace
            first_seen[ns] = min(first_seen.get(ns, s.order), s.order)
        found.sort(key=lambda s: (first_seen[s.item.namespace], s.order))
        return found

    def _search(self, op: SearchOp) -> Flow[list[SearchItem]]:
        stored = yield from self._scan(tuple(op.namespace_prefix))
        stored = [s for s in stored if matches_filter(s.item.value, op.filter)]
        scores: dict[str, float] = {}
        if op.query and stored:
            query = op.query
            by_owner: dict[str, int] = {}
            for s in stored:
                by_owner[s.episode.user_id] = by_owner.get(s.episode.user_id, 0) + 1
            for owner, count in by_owner.items():
                hits = yield from call(lambda api: api.graph.search(user_id=owner, query=query, scope="episodes",
                                       limit=min(1000, max(25, 4 * count))))
                scores.update({h.episode.uuid: float(h.score) for h in hits if h.episode is not None})
        ranked: list[tuple[float | None, _Stored]] = []
        for s in stored:
            score = scores.get(s.episode.uuid) if op.query and s.index is not False else None
            ranked.append((score, s))
        if op.query:
            ranked.sort(key=lambda pair: -pair[0] if pair[0] is not None else float("inf"))  # stable
        window = ranked[op.offset: op.offset + op.limit]
        return [SearchItem(namespace=s.item.namespace, key=s.item.key, value=s.item.value,
                           created_at=s.item.created_at, updated_at=s.item.updated_at, score=score)
                for score, s in window]

    def _list_namespaces(self, op: ListNamespacesOp) -> Flow[list[tuple[str, ...]]]:
        stored = yield from self._scan()
        namespaces = list(dict.fromkeys(s.item.namespace for s in stored))
        if op.match_conditions:
            namespaces = [ns for ns in namespaces if all(_matches(c, ns) for c in op.match_conditions)]
        if op.max_depth is not None:
            namespaces = sorted({ns[: op.max_depth] for ns in namespaces})
        else:
            namespaces = sorted(namespaces)
        return namespaces[op.offset: op.offset + op.limit]
