"""The ``agent-memory`` command line: demo, ingest, context, search, facts, users, delete-user, reindex."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from typer.core import TyperGroup
from typer.exceptions import TyperException

from .client import Memory
from .config import MemoryConfig
from .errors import AgentMemoryError, ConfigError, InvalidInputError, NotFoundError

__all__ = ["app", "main"]

console = Console()
errors = Console(stderr=True)


class _Group(TyperGroup):
    """Our errors (bad input, bad settings, storage) print as one line with exit code 2, never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except AgentMemoryError as exc:
            errors.print(f"[red]error:[/red] {exc}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, TyperException, KeyboardInterrupt):  # typer's own: exit codes, usage
            raise
        except Exception as exc:
            if os.environ.get("AGENT_MEMORY_DEBUG"):
                raise
            errors.print(f"[red]unexpected error[/red] (a bug: please report it; AGENT_MEMORY_DEBUG=1 shows the "
                         f"traceback): {type(exc).__name__}: {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None


app = typer.Typer(cls=_Group, help="Persistent, per-user memory for AI agents (offline by default).",
                  add_completion=False, pretty_exceptions_enable=False)

HomeOpt = Annotated[Path | None, typer.Option("--home", help="memory directory (default ./.agent_memory "
                                                 "or AGENT_MEMORY_HOME)")]
DbOpt = Annotated[str | None, typer.Option("--database-url", envvar="AGENT_MEMORY_DATABASE_URL", show_envvar=True,
                                           help="a shared PostgreSQL memory (postgresql://...), instead of --home")]


@app.callback(invoke_without_command=True)
def _root(ctx: typer.Context) -> None:
    """Persistent, per-user memory for AI agents (offline by default)."""
    if ctx.invoked_subcommand is None:  # no command: the help, and success
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


def _config(home: Path | None, database_url: str | None = None) -> MemoryConfig:
    """Settings from the environment, --home and --database-url (checked: a bad value is a ConfigError)."""
    return MemoryConfig.from_env(home=home, database_url=database_url)


def _open(home: Path | None, database_url: str | None = None) -> Memory:
    return Memory(config=_config(home, database_url))


@app.command()
def demo(
    home: Annotated[Path | None, typer.Option(help="keep the demo memory here (default: a temp dir)")] = None,
    database_url: DbOpt = None,
) -> None:
    """Seed a user's threads over several days, then show a new thread's context block recalling them.

    With --database-url (or AGENT_MEMORY_DATABASE_URL) the demo runs on that PostgreSQL memory, as a
    user of its own that it deletes at the end (the database's other users are left alone)."""
    from .context.lines import fact_when
    from .demo import run_demo

    if database_url and home is not None:
        raise ConfigError("give either --home or --database-url, not both")
    workdir = None if database_url else home or Path(tempfile.mkdtemp(prefix="agent-memory-demo-"))
    user_id = f"jane-demo-{uuid.uuid4().hex[:8]}" if database_url else "jane"
    console.print(f"[dim]memory: {f'PostgreSQL, user {user_id}' if database_url else workdir}[/dim]")
    started = time.perf_counter()
    try:
        with (Memory(config=_config(None, database_url)) if database_url else Memory(workdir)) as memory:
            try:
                result = run_demo(memory, user_id=user_id)
            finally:
                if database_url:  # a shared database keeps only its own users
                    with contextlib.suppress(NotFoundError):
                        memory.user.delete(user_id)
            elapsed = time.perf_counter() - started
            engine = "PostgreSQL + pgvector" if database_url else "SQLite + embedded Chroma"
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
                          f"(offline: {engine} + MiniLM + spaCy)[/dim]")
    finally:
        if home is None and workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="JSON Lines: one message per line")],
    home: HomeOpt = None,
    database_url: DbOpt = None,
    first_name: Annotated[str | None, typer.Option("--first-name", help="the file's user's first name")] = None,
    last_name: Annotated[str | None, typer.Option("--last-name", help="the file's user's last name")] = None,
    email: Annotated[str | None, typer.Option("--email", help="the file's user's email")] = None,
) -> None:
    """Load messages from JSONL: {"user_id", "thread_id", "role", "content", "name"?, "created_at"?, "uuid"?,
    "metadata"?, "first_name"?, "last_name"?, "email"?}.

    The whole file is checked first: a bad line is reported with its number and nothing is stored.
    Users and threads that do not exist yet are created (named from the line or --first-name/--last-name);
    a line may not add to another user's thread. Messages already stored (same uuid, or the same line) are
    skipped, so running it again is a no-op.
    """
    from .jsonl import plan_ingest, read_jsonl

    config = _config(home, database_url)
    lines = read_jsonl(file, max_content_chars=config.max_content_chars)
    names = {k: v for k, v in (("first_name", first_name), ("last_name", last_name), ("email", email)) if v}
    with Memory(config=config) as memory:
        plan = plan_ingest(memory, file, lines, names)
        for uid, fields in plan.new_users.items():
            memory.user.add(user_id=uid, **fields)
        for uid, fields in plan.named_users.items():
            memory.user.update(uid, **fields)
        for tid, uid in plan.new_threads.items():
            memory.thread.create(thread_id=tid, user_id=uid)
        stored, loading, elapsed = _store(memory, file, plan.todo)
    skipped = f"; {plan.skipped} already stored, skipped" if plan.skipped else ""
    if stored > 1 and elapsed > 0:  # the first message loads the models: the rate is of the others
        rate = f" in {loading + elapsed:.1f} s: {(stored - 1) / elapsed:.1f} messages/s after {loading:.1f} s " \
               "loading the models with the first message"
    else:
        rate = f" in {loading + elapsed:.1f} s" if stored else ""
    console.print(f"ingested {stored} messages{skipped}{rate}", soft_wrap=True)


def _batches(lines: list[Any]) -> list[list[Any]]:
    """Consecutive lines of one thread, at most 64 a batch; the first batch holds one line (it loads the models)."""
    out: list[list[Any]] = []
    for line in lines:
        if out and out[-1][0].thread_id == line.thread_id and len(out[-1]) < 64 and len(out) > 1:
            out[-1].append(line)
        else:
            out.append([line])
    return out


def _store(memory: Memory, file: Path, todo: list[Any]) -> tuple[int, float, float]:
    """Add the lines' messages with a progress bar; returns (stored, first-batch seconds, seconds after it)."""
    stored, loading, started = 0, 0.0, time.perf_counter()
    columns = (TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TimeRemainingColumn())
    with Progress(*columns, console=errors, transient=True) as progress:
        task = progress.add_task("ingesting", total=len(todo), rate="")
        for i, batch in enumerate(_batches(todo)):
            try:
                memory.thread.add_messages(batch[0].thread_id, messages=[line.message for line in batch])
                stored += len(batch)
            except AgentMemoryError:  # a batch is all or nothing: find the line, storing those before it
                for line in batch:
                    try:
                        memory.thread.add_messages(line.thread_id, messages=[line.message])
                    except AgentMemoryError as exc:
                        raise type(exc)(f"{file}:{line.number}: {exc}; the {stored} messages of the lines before it "
                                        "were stored (a re-run skips them)") from None
                    stored += 1
            now = time.perf_counter()
            if i == 0:
                loading, started = now - started, now
            elif now > started:
                progress.update(task, rate=f"{(stored - 1) / (now - started):.0f} msg/s")
            progress.advance(task, len(batch))
    return stored, loading, time.perf_counter() - started


@app.command()
def context(
    thread_id: Annotated[str | None, typer.Option(help="context for this thread's next reply")] = None,
    user_id: Annotated[str | None, typer.Option(help="with --query: context for a free query")] = None,
    query: Annotated[str | None, typer.Option(help="the query (with --user-id)")] = None,
    template_id: Annotated[str | None, typer.Option(help="a stored context template")] = None,
    budget: Annotated[int | None, typer.Option(help="token budget")] = None,
    home: HomeOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Print the context block for a thread, or for a user and a query."""
    with _open(home, database_url) as memory:
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
    database_url: DbOpt = None,
) -> None:
    """Hybrid search of a user's graph."""
    with _open(home, database_url) as memory:
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
    database_url: DbOpt = None,
) -> None:
    """List a user's facts with their validity ranges."""
    with _open(home, database_url) as memory:
        table = Table("fact", "relation", "valid from", "until")
        for f in memory.graph.facts(user_id=user_id, as_of=as_of, valid_only=valid_only, limit=limit):
            table.add_row(f.fact, f.relation, f"{f.valid_at:%Y-%m-%d}" if f.valid_at else "?",
                          f"{f.invalid_at:%Y-%m-%d}" if f.invalid_at else "present")
        console.print(table)


@app.command()
def users(home: HomeOpt = None, database_url: DbOpt = None,
          limit: Annotated[int, typer.Option(help="how many")] = 100) -> None:
    """List users."""
    with _open(home, database_url) as memory:
        table = Table("user_id", "name", "email", "created")
        for u in memory.user.list(limit=limit):
            table.add_row(u.user_id, u.display_name, u.email or "", f"{u.created_at:%Y-%m-%d %H:%M}")
        console.print(table)


@app.command("delete-user")
def delete_user(
    user_id: Annotated[str, typer.Argument(help="the user to delete, with everything of theirs")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
    home: HomeOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Delete a user: every record, vector and index entry, leaving no trace on disk."""
    if not yes and not typer.confirm(f"Delete user {user_id!r} and all their memory?"):
        raise typer.Abort()
    with _open(home, database_url) as memory:
        memory.user.delete(user_id)
    console.print(f"deleted {user_id}")


@app.command()
def reindex(
    home: HomeOpt = None,
    database_url: DbOpt = None,
    embedder: Annotated[str, typer.Option(help="default (quantized MiniLM) | minilm-fp32 (the previous default) "
                                               "| e5 | package.module:factory")] = "default",
) -> None:
    """Rebuild every vector of a memory with another embedder (stop processes using the memory first)."""
    from .ingest.reindex import reindex_home, resolve_embedder

    config = _config(home, database_url)
    new = resolve_embedder(embedder)
    started = time.perf_counter()
    with Progress(console=console) as progress:
        task = progress.add_task(f"re-embedding with {new.name}", total=None)
        report = reindex_home(config, new, on_total=lambda n: progress.update(task, total=n),
                              progress=lambda n: progress.advance(task, n))
    counts = ", ".join(f"{n} {kind}s" for kind, n in report.records.items())
    console.print(f"reindexed {report.users} users ({counts}) in {time.perf_counter() - started:.1f} s: "
                  f"{report.before or 'no embedder recorded'} -> {report.after}")


def main() -> None:
    """Entry point: run the app; our errors print as one clear line with exit code 2 (see ``_Group``)."""
    app()
