"""A separate process for the storage tests: ``python _child.py MODE HOME [ARGS]``; prints one result line.

Modes: ``open`` (open the home, say ``ok`` or the error's class, hold it ``ARGS[0]`` seconds),
``migrate`` (open the bare SQLite store of a file), ``ingest`` (add messages forever, printing
``ready`` once: the crash test kills it), ``add`` (add ``ARGS[0]`` messages for user ``ARGS[1]``
through the Chroma server at ``ARGS[2]:ARGS[3]``, on thread ``<user>-ARGS[4]``).
"""

from __future__ import annotations

import sys
import time

from agent_memory import Message
from agent_memory.errors import AgentMemoryError
from agent_memory.testing.crash import ingest_forever
from agent_memory.testing.crash import open_memory as memory


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
        ingest_forever(home)
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
            mem.thread.add_messages(tid, messages=[Message(  # the kayak entities are shared by every process
                role="user", content=f"{args[4]} says item{i}\nI | LIKES | kayak{i % 3}")])
        mem.close()
        print("ok", flush=True)


if __name__ == "__main__":
    main()
