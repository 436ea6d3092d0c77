"""A separate process for the storage tests: ``python _child.py MODE HOME [ARGS]``; prints one result line.

Modes: ``open`` (open the home, say ``ok`` or the error's class, hold it ``ARGS[0]`` seconds),
``migrate`` (open the bare SQLite store of a file), ``ingest`` (add messages forever, printing
``ready`` once: the crash test kills it), ``add`` (add ``ARGS[0]`` messages for user ``ARGS[1]``).
"""

from __future__ import annotations

import sys
import time

from agent_memory import Memory, MemoryConfig, Message
from agent_memory.errors import AgentMemoryError
from agent_memory.testing.extractors import TripleExtractor
from agent_memory.testing.fakes import HashEmbedder


def memory(home: str, **config: object) -> Memory:
    return Memory(config=MemoryConfig(home=home, **config), embedder=HashEmbedder(), extractor=TripleExtractor())  # type: ignore[arg-type]


def main() -> None:
    mode, home, *args = sys.argv[1:]
    if mode == "migrate":
        from agent_memory.storage.sqlite import SQLiteStore

        SQLiteStore(home).close()
        print("ok", flush=True)
    elif mode == "open":
        try:
            mem = memory(home)
        except AgentMemoryError as exc:
            print(type(exc).__name__, str(exc).replace("\n", " "), flush=True)
            return
        print("ok", flush=True)
        time.sleep(float(args[0]) if args else 0.0)
        mem.close()
    elif mode == "ingest":
        mem = memory(home)
        for user in ("jane", "bob"):
            try:
                mem.user.add(user_id=user, first_name=user.title())
                mem.thread.create(thread_id=f"{user}-t", user_id=user)
            except AgentMemoryError:
                pass
        print("ready", flush=True)
        i = 0
        while True:
            i += 1
            user = ("jane", "bob")[i % 2]
            mem.thread.add_messages(f"{user}-t", messages=[
                Message(role="user", content=f"I | LIKES | thing{i} number {i}"),
                Message(role="assistant", content=f"Noted thing{i}, message {i}")])
    elif mode == "add":
        count, user = int(args[0]), args[1]
        host, port = args[2], int(args[3])
        mem = memory(home, chroma_host=host, chroma_port=port)
        try:
            mem.user.add(user_id=user)
        except AgentMemoryError:
            pass
        tid = f"{user}-{args[4]}"
        mem.thread.create(thread_id=tid, user_id=user)
        for i in range(count):
            mem.thread.add_messages(tid, messages=[Message(role="user", content=f"{args[4]} says item{i}")])
        mem.close()
        print("ok", flush=True)


if __name__ == "__main__":
    main()
