"""The ``agent-memory`` command line: demo, ingest, context, search, facts, users, delete-user."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import Progress
from rich.table import Table

from .client import Memory
from .errors import AgentMemoryError, InvalidInputError

__all__ = ["app", "main"]

app = typer.Typer(help="Persistent, per-user memory for AI agents (offline by default).",
                  no_args_is_help=True, add_completion=False)
console = Console()

HomeOpt = Annotated[Path | None, typer.Option("--home", help="memory directory (default ./.agent_memory "
                                                 "or AGENT_MEMORY_HOME)")]


def _open(home: Path | None) -> Memory:
    return Memory(home)


@app.command()
def demo(
    home: Annotated[Path | None, typer.Option(help="keep the demo memory here (default: a temp dir)")] = None,
) -> None:
    """Seed a user's threads over several days, then show a new thread's context block recalling them."""
    from .context.render import fact_when
    from .demo import run_demo

    workdir = home or Path(tempfile.mkdtemp(prefix="agent-memory-demo-"))
    console.print(f"[dim]memory home: {workdir}[/dim]")
    started = time.perf_counter()
    try:
        with Memory(workdir) as memory:
            result = run_demo(memory)
            elapsed = time.perf_counter() - started
            console.print(Panel(result.context.context, title="context block for a new thread (day 30)",
                                subtitle=f"query: {result.context.query!r}"))
            table = Table(title="facts recalled from earlier threads")
            for col in ("fact", "valid", "said in"):
                table.add_column(col)
            for fact in result.context.facts:
                table.add_row(fact.fact, fact_when(fact), result.sources.get(fact.uuid, ""))
            console.print(table)
            if result.closed:
                console.print("[bold]changed facts, closed not deleted:[/bold]")
                for line in result.closed:
                    console.print(f"  - {line}")
            console.print(f"[dim]{result.facts_total} facts in Jane's graph; built in {elapsed:.1f} s "
                          f"(offline: SQLite + embedded Chroma + MiniLM + spaCy)[/dim]")
    finally:
        if home is None:
            shutil.rmtree(workdir, ignore_errors=True)


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="JSON Lines: one message per line")],
    home: HomeOpt = None,
) -> None:
    """Load messages from JSONL: {"user_id", "thread_id", "role", "content", "name"?, "created_at"?}.

    Users and threads that do not exist yet are created. Lines are grouped per thread in order.
    """
    if not file.exists():
        raise InvalidInputError(f"{file} does not exist")
    rows: list[dict[str, Any]] = []
    for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{file}:{n}: not valid JSON ({exc.msg})") from exc
        missing = {"user_id", "thread_id", "role", "content"} - set(row)
        if missing:
            raise InvalidInputError(f"{file}:{n}: missing {', '.join(sorted(missing))}")
        rows.append(row)
    started = time.perf_counter()
    with _open(home) as memory, Progress(console=console) as progress:
        task = progress.add_task("ingesting", total=len(rows))
        batch: list[dict[str, Any]] = []
        for i, row in enumerate(rows):
            batch.append(row)
            nxt = rows[i + 1] if i + 1 < len(rows) else None
            if nxt is None or nxt["thread_id"] != row["thread_id"] or len(batch) >= 64:
                _write_batch(memory, batch)
                progress.advance(task, len(batch))
                batch = []
    elapsed = time.perf_counter() - started
    console.print(f"ingested {len(rows)} messages in {elapsed:.1f} s ({len(rows) / max(elapsed, 1e-9):.0f}/s)")


def _write_batch(memory: Memory, batch: list[dict[str, Any]]) -> None:
    from .errors import ThreadNotFoundError, UserNotFoundError

    first = batch[0]
    try:
        memory.user.get(first["user_id"])
    except UserNotFoundError:
        memory.user.add(user_id=first["user_id"])
    try:
        memory.thread.get(first["thread_id"])
    except ThreadNotFoundError:
        memory.thread.create(thread_id=first["thread_id"], user_id=first["user_id"])
    fields = ("role", "content", "name", "created_at", "metadata")
    memory.thread.add_messages(first["thread_id"], messages=[{k: r[k] for k in fields if k in r} for r in batch])


@app.command()
def context(
    thread_id: Annotated[str | None, typer.Option(help="context for this thread's next reply")] = None,
    user_id: Annotated[str | None, typer.Option(help="with --query: context for a free query")] = None,
    query: Annotated[str | None, typer.Option(help="the query (with --user-id)")] = None,
    template_id: Annotated[str | None, typer.Option(help="a stored context template")] = None,
    budget: Annotated[int | None, typer.Option(help="token budget")] = None,
    home: HomeOpt = None,
) -> None:
    """Print the context block for a thread, or for a user and a query."""
    with _open(home) as memory:
        if thread_id:
            ctx = memory.thread.get_user_context(thread_id, template_id=template_id, token_budget=budget)
        elif user_id and query:
            ctx = memory.context.get(user_id=user_id, query=query, template_id=template_id, token_budget=budget)
        else:
            raise InvalidInputError("give --thread-id, or --user-id with --query")
        console.print(ctx.context, markup=False, highlight=False)
        console.print(f"[dim]{ctx.token_count} tokens; query: {ctx.query!r}[/dim]")


@app.command()
def search(
    user_id: Annotated[str, typer.Option(help="whose graph")],
    query: Annotated[str, typer.Argument(help="what to look for")],
    scope: Annotated[str, typer.Option(help="edges | nodes | episodes | observations")] = "edges",
    limit: Annotated[int, typer.Option(help="how many results")] = 10,
    home: HomeOpt = None,
) -> None:
    """Hybrid search of a user's graph."""
    with _open(home) as memory:
        table = Table("score", "result")
        for hit in memory.graph.search(user_id=user_id, query=query, scope=scope, limit=limit):
            if hit.fact:
                text = hit.fact.fact
            elif hit.entity:
                text = f"{hit.entity.name} ({hit.entity.type})"
            elif hit.episode:
                text = f"{hit.episode.name or hit.episode.source.value}: {hit.episode.content}"
            else:
                text = hit.observation.text if hit.observation else ""
            table.add_row(f"{hit.score:.4f}", text)
        console.print(table)


@app.command()
def facts(
    user_id: Annotated[str, typer.Option(help="whose graph")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="RFC 3339: what was true then")] = None,
    valid_only: Annotated[bool, typer.Option("--valid-only", help="only facts still true")] = False,
    limit: Annotated[int, typer.Option(help="how many")] = 100,
    home: HomeOpt = None,
) -> None:
    """List a user's facts with their validity ranges."""
    with _open(home) as memory:
        table = Table("fact", "relation", "valid from", "until")
        for f in memory.graph.facts(user_id=user_id, as_of=as_of, valid_only=valid_only, limit=limit):
            table.add_row(f.fact, f.relation, f"{f.valid_at:%Y-%m-%d}" if f.valid_at else "?",
                          f"{f.invalid_at:%Y-%m-%d}" if f.invalid_at else "present")
        console.print(table)


@app.command()
def users(home: HomeOpt = None, limit: Annotated[int, typer.Option(help="how many")] = 100) -> None:
    """List users."""
    with _open(home) as memory:
        table = Table("user_id", "name", "email", "created")
        for u in memory.user.list(limit=limit):
            table.add_row(u.user_id, u.display_name, u.email or "", f"{u.created_at:%Y-%m-%d %H:%M}")
        console.print(table)


@app.command("delete-user")
def delete_user(
    user_id: Annotated[str, typer.Argument(help="the user to delete, with everything of theirs")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
    home: HomeOpt = None,
) -> None:
    """Delete a user: every record, vector and index entry, leaving no trace on disk."""
    if not yes and not typer.confirm(f"Delete user {user_id!r} and all their memory?"):
        raise typer.Abort()
    with _open(home) as memory:
        memory.user.delete(user_id)
    console.print(f"deleted {user_id}")


def main() -> None:
    """Entry point: run the app, printing our errors as one clear line and exit code 2."""
    try:
        app()
    except AgentMemoryError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
