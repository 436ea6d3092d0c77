"""A process of the PostgreSQL sharing test (tests/integration/test_postgres_sharing.py); not a test.

``writer``: adds N messages for the shared user, 10 per ``add_messages`` call (inline ingestion),
appending each acknowledged message id to its ack file only after the call returned (after the
first call it waits for the reader to poll, so the reader sees the count between start and end); then waits
for the verify signal and checks a sample of everyone's acknowledged messages. ``victim``: the
same, but its extractor announces itself and stalls, so the test can kill -9 it mid-batch while it
holds the user's ingestion claim. ``reader``: opens its Memory before anything is written, polls
what it sees while the writers run, then checks every acknowledged message. Cheap deterministic
parts (HashEmbedder, TripleExtractor) by default; ``--real`` uses the default models.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from agent_memory import Memory
from agent_memory.testing.extractors import TripleExtractor
from agent_memory.testing.fakes import HashEmbedder

USER = "shared"
BATCH = 10


def text_of(writer: str, i: int) -> str:
    """Message i of a writer: one triple, with a token found nowhere else (for full-text lookups)."""
    return f"{token(writer, i)} | LIKES | gadget {writer} number {i}"


def token(writer: str, i: int) -> str:
    return f"tok{writer}x{i}"


class StallingExtractor(TripleExtractor):
    """Announces that a batch is being processed (the claim is held), then stalls until killed."""

    def __init__(self, marker: Path) -> None:
        self.marker, self.calls = marker, 0

    def extract(self, episodes: Any, context: Any) -> Any:
        self.calls += 1
        if self.calls >= 3:  # two batches acknowledged first
            self.marker.write_text(str(os.getpid()))
            time.sleep(600)
        return super().extract(episodes, context)


def open_memory(url: str, real: bool, extractor: Any = None) -> Memory:
    if real:
        return Memory(url)
    return Memory(url, embedder=HashEmbedder(256), extractor=extractor or TripleExtractor(),
                  json_extractor=TripleExtractor())


def acked(work: Path) -> dict[str, tuple[str, int]]:
    """Every acknowledged message id -> (writer, index), from all ack files."""
    out: dict[str, tuple[str, int]] = {}
    for path in work.glob("ack-*.txt"):
        for line in path.read_text().splitlines():
            uid, writer, i = line.split()
            out[uid] = (writer, int(i))
    return out


def findable(memory: Memory, uid: str, writer: str, i: int, public: bool) -> dict[str, bool]:
    """Is the message found by full text, by vector, and (if asked) by the public search (both fused)?"""
    store = memory._core.store
    text_hits = [u for u, _ in store.search_text(USER, "episode", token(writer, i), 5)]
    qvec = memory._core.embedder.embed_batch([text_of(writer, i)])
    vector_hits = [u for u, _ in store.search_vectors(USER, "episode", qvec, 10)[0]]
    found = {"text": uid in text_hits, "vector": uid in vector_hits}
    if public:
        hits = memory.graph.search(user_id=USER, query=text_of(writer, i), scope="episodes", limit=10)
        found["search"] = any(h.episode is not None and h.episode.uuid == uid for h in hits)
    return found


def verify(memory: Memory, work: Path, sample: int | None, public: int = 30) -> dict[str, Any]:
    """Look acknowledged messages up (all, or a sample); the public search for ``public`` of them."""
    items = sorted(acked(work).items())
    rng = random.Random(os.getpid())
    if sample is not None:
        items = rng.sample(items, min(sample, len(items)))
    publicly = {uid for uid, _ in rng.sample(items, min(public, len(items)))}
    missing: dict[str, list[str]] = {"text": [], "vector": [], "search": []}
    for uid, (writer, i) in items:
        for how, ok in findable(memory, uid, writer, i, uid in publicly).items():
            if not ok:
                missing[how].append(uid)
    return {"checked": len(items), "checked_publicly": len(publicly), "missing": missing}


def wait_for(path: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {path}")
        time.sleep(0.1)


def run_writer(args: argparse.Namespace, work: Path) -> None:
    extractor = StallingExtractor(work / "victim-holds-claim") if args.role == "victim" else None
    memory = open_memory(args.url, args.real, extractor)
    ack = (work / f"ack-{args.name}.txt").open("a")
    for start in range(0, args.count, BATCH):
        thread_id = f"{args.name}-{start // BATCH}"
        memory.thread.create(thread_id=thread_id, user_id=USER)
        sent = memory.thread.add_messages(thread_id, messages=[
            {"role": "user", "content": text_of(args.name, i)} for i in range(start, min(start + BATCH, args.count))])
        for offset, message in enumerate(sent):  # acknowledged: the call returned
            ack.write(f"{message.uuid} {args.name} {start + offset}\n")
        ack.flush()
        os.fsync(ack.fileno())
        if start == 0 and args.role == "writer":
            wait_for_a_reader_poll(work)  # so the reader sees this batch while the rest is still to come
    (work / f"done-{args.name}").write_text("ok")
    wait_for(work / "verify")
    result = verify(memory, work, sample=args.sample)
    (work / f"result-{args.name}.json").write_text(json.dumps(result))
    memory.close()


def reader_polls(work: Path) -> int:
    """How many polls the reader has finished (0 before its first)."""
    try:
        return int((work / "reader-polls").read_text())
    except (FileNotFoundError, ValueError):
        return 0


def wait_for_a_reader_poll(work: Path, timeout: float = 600) -> None:
    """Wait until the reader has finished a poll that began after this call."""
    target, deadline = reader_polls(work) + 2, time.monotonic() + timeout
    while reader_polls(work) < target:
        if time.monotonic() > deadline:
            raise SystemExit("gave up waiting for the reader to poll")
        time.sleep(0.05)


def run_reader(args: argparse.Namespace, work: Path) -> None:
    memory = open_memory(args.url, args.real)
    count = memory._core.store.count_episodes
    seen = [count(USER, "processed")]  # before any writer starts
    (work / "reader-ready").write_text("ok")
    polls = 0
    while not (work / "verify").exists():  # the same open Memory, no restart, watching the writers
        seen.append(count(USER, "processed"))
        polls += 1
        (work / "reader-polls.tmp").write_text(str(polls))
        os.replace(work / "reader-polls.tmp", work / "reader-polls")
        time.sleep(0.1)
    seen.append(count(USER, "processed"))  # after every writer is done
    result = verify(memory, work, sample=None)
    result["seen_processed_counts"] = sorted(set(seen))
    (work / "result-reader.json").write_text(json.dumps(result))
    memory.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["writer", "victim", "reader"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--name", default="reader")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--sample", type=int, default=30)
    parser.add_argument("--real", action="store_true")
    parser.add_argument("--log", help="where this process's output goes (for the test's messages)")
    args = parser.parse_args(argv)
    work = Path(args.work)
    if args.role == "reader":
        run_reader(args, work)
    else:
        run_writer(args, work)


if __name__ == "__main__":
    sys.exit(main())
