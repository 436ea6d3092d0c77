"""A LangGraph ``BaseStore`` kept in agent-memory users' graphs, searched by the memory's retrieval.

How items map onto the public agent-memory API (full rules and the differences from InMemoryStore: docs/adapters.md):

- **Owner.** Each item lives in one user's graph, decided by its namespace alone, never by which
  users happen to exist. By default ``user_namespace=("memories", "{user_id}")``: LangGraph's
  documented ``store.put(("memories", user_id), key, value)`` (and anything below it) lands in that
  user's graph and feeds their context block; the user is created on first write. Other namespaces
  go to the shared owner ``shared_user_id`` (``"langgraph_store"``), or are refused when it is None.
  ``user_id=`` makes the store a view of one user's graph. A label is never read as a user id
  unless a template puts ``{user_id}`` in its position, so no label can capture another user's items.
- **Value.** A text value (a string, or a dict whose first of ``text``/``content``/``data``/``memory``
  is text) is remembered as text, as if the user had said it; with index paths, the text of those
  fields is; any other value is a JSON episode that keeps its structure. ``get`` returns the value
  exactly as put (``json.loads(json.dumps(value))``).
- **Overwrite and delete forget.** ``put`` adds the new episode, then deletes the item's older
  episode(s) with ``graph.delete_episode``, which drops the facts only they stated; ``delete`` does
  the same without adding. Concurrent writes of one key converge: the latest write wins, no error.
- **Search.** Candidates are the items under the prefix that pass ``filter`` (``$eq $ne $gt $gte $lt
  $lte``, nested dicts, lists, as ``InMemoryStore``). With a ``query``, ``SearchItem.score`` is the
  item's *relevance*: the cosine of query and item text under the memory's embedder, in [0, 1]
  (``agent_memory.retrieval.relevance``); items outside the owner's retrieval pool or put with
  ``index=False`` come last with ``score=None``. Without a query: insertion order.
- **Batches.** Reads in a batch see the state before its writes; writes to one key are deduplicated
  (last one wins), as in ``InMemoryStore``. TTL is not supported (``supports_ttl = False``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
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
    AlreadyExistsError,
    ConfigError,
    ContentTooLargeError,
    EpisodeNotFoundError,
    InvalidInputError,
    ThreadNotFoundError,
    UserNotFoundError,
)
from agent_memory.models import Episode, SearchResult, Thread, User

from ._items import DEFAULT_USER_NAMESPACE, decode, encode, matches_filter, owner_rule, parse_index, prefix_owner

__all__ = ["STORE_MARKER", "AgentMemoryStore", "matches_filter"]

STORE_MARKER = "langgraph_store"
"""Key of the episode metadata that marks (and describes) a store item."""

_PAGE = 1000
_SOURCES = ("json", "text")


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

    __slots__ = ("episode", "index", "item", "order", "version")

    def __init__(self, item: Item, order: int, version: int, index: Any, episode: Episode) -> None:
        self.item, self.order, self.version, self.index, self.episode = item, order, version, index, episode

    @property
    def rank(self) -> tuple[int, str]:
        """Newest write first: the version, then the episode id (a total order all writers agree on)."""
        return self.version, self.episode.uuid


def _index_config(index: Any) -> list[str] | None:
    if index is None:
        return None
    if not isinstance(index, Mapping):
        raise ConfigError(f"index must be a dict like {{'fields': ['text']}}, got {type(index).__name__}")
    other = sorted(set(index) - {"fields"})
    if other:
        raise ConfigError(f"index keys {other} are not used by AgentMemoryStore: items are embedded by the "
                          "Memory's own embedder (pass embedder= to Memory to change it); only 'fields' applies")
    fields = parse_index(index.get("fields"), "index['fields']")
    return fields if isinstance(fields, list) else None


class AgentMemoryStore(BaseStore):
    """LangGraph long-term memory store kept in agent-memory: items become part of users' graphs.

    Setup:
        ``pip install "agent-memory[langgraph]"`` (the store needs ``langgraph`` only, not ``langchain``)

    Key init args:
        memory: a ``Memory`` (sync and async methods) or an ``AsyncMemory`` (async methods only).
        user_namespace: who owns an item, from its namespace: a template (or list of templates)
            with one ``"{user_id}"`` label, default ``("memories", "{user_id}")``; or a function
            ``(namespace, key) -> user_id | None`` (e.g. ``lambda ns, key: key if ns == ("users",) else None``).
        shared_user_id: owner of items whose namespace names no user (default ``"langgraph_store"``);
            None refuses such items.
        user_id: put every item in this one user's graph (``user_namespace`` is then not used).
        index: ``{"fields": [...]}``: default index paths (the fields whose text is remembered).

    Usage:
        .. code-block:: python

            store = AgentMemoryStore(memory)
            store.put(("memories", "jane"), "food", {"text": "Jane is vegetarian"})
            store.search(("memories", "jane"), query="what does Jane eat?", limit=3)
            graph = builder.compile(checkpointer=InMemorySaver(), store=store)

    Async:
        ``abatch`` (and so ``aget``, ``aput``, ``asearch``, ...) is native: awaited on an
        ``AsyncMemory``, in a worker thread on a ``Memory``.
    """

    supports_ttl: bool = False

    def __init__(self, memory: Memory | AsyncMemory, *, user_namespace: Any = DEFAULT_USER_NAMESPACE,
                 shared_user_id: str | None = "langgraph_store", user_id: str | None = None,
                 index: Mapping[str, Any] | None = None) -> None:
        """Wrap ``memory`` (see the class docstring for the arguments)."""
        self._bridge = Bridge(memory)
        self.memory = memory
        self.user_id = user_id
        self.user_namespace = user_namespace
        self.shared_user_id = shared_user_id
        self._owner_of, self._templates = owner_rule(user_namespace)
        self._fields = _index_config(index)
        self._clock = threading.Lock()
        self._last_version = 0

    def __repr__(self) -> str:
        return (f"AgentMemoryStore(user_namespace={self.user_namespace!r}, shared_user_id={self.shared_user_id!r}, "
                f"user_id={self.user_id!r})")

    # -- construction as PostgresStore users expect ----------------------------------------------
    @classmethod
    @contextlib.contextmanager
    def from_conn_string(cls, conn_string: str, **kwargs: Any) -> Iterator[AgentMemoryStore]:
        """A store over a ``Memory`` opened at ``conn_string`` (a memory home directory), closed on exit."""
        if "://" in conn_string:
            raise ConfigError(f"from_conn_string takes a memory home directory, got {conn_string!r}; for another "
                              "backend build the Memory yourself and pass it: AgentMemoryStore(memory)")
        with Memory(conn_string) as memory:
            yield cls(memory, **kwargs)

    @classmethod
    @contextlib.asynccontextmanager
    async def afrom_conn_string(cls, conn_string: str, **kwargs: Any) -> AsyncIterator[AgentMemoryStore]:
        """``from_conn_string`` over an ``AsyncMemory``."""
        if "://" in conn_string:
            raise ConfigError(f"afrom_conn_string takes a memory home directory, got {conn_string!r}")
        async with AsyncMemory(conn_string) as memory:
            yield cls(memory, **kwargs)

    def setup(self) -> None:
        """Nothing to do: a ``Memory`` creates and migrates its schema when it opens (kept for PostgresStore code)."""

    async def asetup(self) -> None:
        """Nothing to do (see ``setup``)."""

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

    def _version(self) -> int:
        with self._clock:  # strictly increasing within this store, so a later write always wins
            self._last_version = max(time.time_ns(), self._last_version + 1)
            return self._last_version

    def _read(self, episode: Episode) -> _Stored | None:
        meta = episode.metadata.get(STORE_MARKER)
        if not isinstance(meta, dict):
            return None
        namespace, key = tuple(meta.get("namespace") or ()), meta.get("key")
        if not namespace or not isinstance(key, str) or episode.thread_id != self.thread_id_for(namespace, key):
            return None  # not an item, or an item of a store in another mode (user_id set or not)
        value = decode(episode.content, meta.get("shape") or {})
        ts: datetime = episode.reference_time
        item = Item(value=value, key=key, namespace=namespace, created_at=ts, updated_at=ts)
        order = int(meta.get("order", 0))
        return _Stored(item, order, int(meta.get("version", order)), meta.get("index"), episode)

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

    def _versions(self, namespace: tuple[str, ...], key: str) -> Flow[tuple[Thread | None, list[_Stored]]]:
        """The item's thread and its stored versions, newest first."""
        try:
            thread: Thread = yield from call(lambda api: api.thread.get(self.thread_id_for(namespace, key)))
        except ThreadNotFoundError:
            return None, []
        episodes: list[Episode] = yield from call(lambda api: api.graph.episodes(user_id=thread.user_id,
                                                  thread_id=thread.thread_id, limit=_PAGE))
        stored = [s for s in map(self._read, episodes) if s is not None]
        return thread, sorted(stored, key=lambda s: s.rank, reverse=True)

    def _get(self, namespace: tuple[str, ...], key: str) -> Flow[Item | None]:
        _, versions = yield from self._versions(namespace, key)
        return versions[0].item if versions else None

    def _owner(self, namespace: tuple[str, ...], key: str) -> Flow[str]:
        if self.user_id is not None:
            owner: str | None = self.user_id
        else:
            owner = self._owner_of(namespace, key)
            if owner is not None and owner == self.shared_user_id:
                raise InvalidInputError(f"namespace {namespace!r} names user {owner!r}, which is this store's "
                                        "shared_user_id (the owner of unowned items); use another user id")
            if owner is None:
                if self.shared_user_id is None:
                    raise InvalidInputError(f"namespace {namespace!r} names no user (user_namespace="
                                            f"{self.user_namespace!r}) and shared_user_id is None")
                owner = self.shared_user_id
        assert owner is not None
        yield from ensure_user(owner)
        return owner

    def _forget(self, user_id: str, stale: Iterable[_Stored]) -> Flow[None]:
        for s in stale:
            with contextlib.suppress(EpisodeNotFoundError):  # a concurrent writer removed it first
                yield from call(lambda api: api.graph.delete_episode(user_id=user_id, uuid=s.episode.uuid))

    def _put(self, op: PutOp) -> Flow[None]:
        namespace, key = tuple(op.namespace), op.key
        if op.value is None:
            yield from self._delete(namespace, key)
            return
        index = parse_index(op.index, "put(index=...)")
        fields = self._fields if index is None else index
        encoded = encode(op.value, fields if isinstance(fields, list) else None)  # validate first
        limit = self.memory.config.max_content_chars
        if len(encoded.data) > limit:
            raise ContentTooLargeError(f"the value of {namespace}/{key} is {len(encoded.data):,} characters as "
                                       f"stored, over the limit of {limit:,} (MemoryConfig.max_content_chars)")
        owner = yield from self._owner(namespace, key)
        version = self._version()
        tid = self.thread_id_for(namespace, key)
        _, before = yield from self._versions(namespace, key)
        order = min((s.order for s in before), default=version)  # an overwritten key keeps its place
        marker = {"namespace": list(namespace), "key": key, "order": order, "version": version,
                  "index": index if index is None or index is False else list(index), "shape": encoded.shape}
        for attempt in range(5):
            try:
                try:
                    thread: Thread = yield from call(lambda api: api.thread.create(thread_id=tid, user_id=owner))
                except AlreadyExistsError:
                    thread = yield from call(lambda api: api.thread.get(tid))
                if thread.user_id != owner:
                    raise InvalidInputError(f"item {namespace}/{key} belongs to user {thread.user_id!r}, not "
                                            f"{owner!r}: was the store's user_namespace or user_id changed?")
                yield from call(lambda api: api.graph.add(user_id=owner, type=encoded.type, data=encoded.data,
                                thread_id=tid, metadata={STORE_MARKER: marker}))
                break
            except ThreadNotFoundError:  # a concurrent delete removed the thread: make it again
                if attempt == 4:
                    raise
        _, versions = yield from self._versions(namespace, key)
        yield from self._forget(owner, versions[1:])  # replace: what only the old value said is forgotten

    def _delete(self, namespace: tuple[str, ...], key: str) -> Flow[None]:
        thread, versions = yield from self._versions(namespace, key)
        if thread is None:
            return
        yield from self._forget(thread.user_id, versions)
        with contextlib.suppress(ThreadNotFoundError):
            yield from call(lambda api: api.thread.delete(thread.thread_id))

    def _owners(self, prefix: tuple[str, ...]) -> Flow[list[str]]:
        if self.user_id is not None:
            return [self.user_id]
        only = prefix_owner(self._templates, prefix)
        if only is not None:
            return [only]
        owners: list[str] = []
        while True:
            page: list[User] = yield from call(lambda api: api.user.list(limit=_PAGE, offset=len(owners)))
            owners.extend(u.user_id for u in page)
            if len(page) < _PAGE:
                return owners

    def _scan(self, prefix: tuple[str, ...] = ()) -> Flow[list[_Stored]]:
        """Every item under ``prefix`` (its newest version), in insertion order (namespace first seen, then key)."""
        newest: dict[tuple[tuple[str, ...], str], _Stored] = {}
        owners = yield from self._owners(prefix)
        for owner in owners:
            for source in _SOURCES:
                offset = 0
                while True:
                    try:
                        page: list[Episode] = yield from call(lambda api: api.graph.episodes(
                            user_id=owner, source=source, limit=_PAGE, offset=offset))
                    except (UserNotFoundError, InvalidInputError):
                        break
                    for episode in page:
                        s = self._read(episode)
                        if s is None or s.item.namespace[: len(prefix)] != prefix:
                            continue
                        ident = (s.item.namespace, s.item.key)
                        if ident not in newest or s.rank > newest[ident].rank:
                            newest[ident] = s
                    if len(page) < _PAGE:
                        break
                    offset += _PAGE
        found = list(newest.values())
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
                hits: list[SearchResult] = yield from call(lambda api: api.graph.search(
                    user_id=owner, query=query, scope="episodes", limit=min(1000, max(25, 4 * count)), relevance=True))
                scores.update({h.episode.uuid: float(h.relevance if h.relevance is not None else 0.0)
                               for h in hits if h.episode is not None})
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
