"""The `claimsdb` command.

Errors a user can make (a bad URL, an unknown role, an unmigrated or unreachable database, a
broken seed file) print one line on standard error and exit with status 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import sqlalchemy as sa
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import DBAPIError, OperationalError

from api.settings import Settings, SettingsError
from api.store import migrations
from api.store.db import Database
from api.store.errors import DatabaseBusy, StoreError
from api.store.seeding import SeedError, load_seeds
from schema.enums import Role

app = typer.Typer(
    name="claimsdb",
    help="A claims-and-evidence database for neuroimmunology research.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Create and migrate the database.", no_args_is_help=True)
users_app = typer.Typer(help="Manage users and their API tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="Check the audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")

out = Console()
err = Console(stderr=True)
T = TypeVar("T")


class CliError(Exception):
    """A problem to report in one line."""


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _settings() -> Settings:
    try:
        settings = Settings()
        _ = settings.url
        return settings
    except SettingsError as exc:
        raise CliError(str(exc)) from None
    except ValidationError as exc:  # pydantic wraps the SettingsError raised by a validator
        message = str(exc.errors()[0].get("msg", exc))
        raise CliError(message.removeprefix("Value error, ")) from None


def _describe_db_error(exc: Exception, settings: Settings | None) -> str:
    where = settings.url.render_as_string(hide_password=True) if settings else "the database"
    text = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    lowered = text.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return f"{where} has no claimsdb tables; run `claimsdb db upgrade` first"
    if "does not exist" in lowered and "database" in lowered:
        return (
            f"{where}: the database does not exist; create it (e.g. createdb) and run `claimsdb db upgrade`"
        )
    if "unable to open database" in lowered:
        database = settings.url.database if settings else None
        if database and not database.startswith("file:") and not Path(database).exists():
            # The API opens existing files only (api.store.db); migrations create one.
            return f"{where}: there is no database file yet; run `claimsdb db upgrade` to create it"
        return f"{where}: cannot open the SQLite file; check the path and its permissions"
    return f"{where}: {text}"


def run(fn: Callable[[], T]) -> T:
    """Run a command body, turning expected failures into one-line errors."""
    settings = None
    try:
        settings = _settings()
        return fn()
    except CliError as exc:
        raise _fail(str(exc)) from None
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    except SeedError as exc:
        raise _fail(f"seeds: {exc}") from None
    except StoreError as exc:
        raise _fail(str(exc)) from None
    except DatabaseBusy as exc:
        raise _fail(str(exc)) from None
    except (OperationalError, DBAPIError, OSError, ConnectionError) as exc:
        raise _fail(_describe_db_error(exc, settings)) from None


def _with_db(body: Callable[[Database], Awaitable[T]], *, require_head: bool = True) -> T:
    settings = _settings()

    async def main() -> T:
        db = Database(settings)
        try:
            if require_head:
                await ensure_migrated(db)
            return await body(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


async def ensure_migrated(db: Database) -> None:
    head = migrations.head_revision(db.settings)
    async with db.engine.connect() as conn:
        current = await conn.run_sync(migrations.current_revision)
    if current != head:
        state = "is not migrated" if current is None else f"is at revision {current}"
        raise CliError(f"the database {state}, the code needs {head}; run `claimsdb db upgrade` first")


# --- db -----------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database up to REVISION (default: the newest)."""
    run(lambda: migrations.upgrade(_settings(), revision))
    out.print(f"database at revision {revision}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. base.")],
) -> None:
    """Migrate the database down to REVISION ('base' removes every table)."""
    run(lambda: migrations.downgrade(_settings(), revision))
    out.print(f"database at revision {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision."""
    run(lambda: migrations.current(_settings()))


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Argument(help="What the migration does.")]) -> None:
    """Autogenerate a migration from the models (review it before committing)."""
    run(lambda: migrations.revision(_settings(), message))


# --- seed ---------------------------------------------------------------------------------


@app.command("seed")
def seed() -> None:
    """Load the curated seeds (seeds/*.yaml); loading twice adds nothing."""

    def body() -> None:
        settings = _settings()
        report = _with_db(lambda db: load_seeds(db, settings.seeds_dir))
        table = Table("kind", "added", "already there", title="seeds")
        for kind in sorted(set(report.created) | set(report.existing)):
            table.add_row(kind, str(report.created[kind]), str(report.existing[kind]))
        out.print(table)

    run(body)


# --- users --------------------------------------------------------------------------------


def _role(value: str) -> Role:
    try:
        return Role(value.upper())
    except ValueError:
        choices = ", ".join(r.value.lower() for r in Role)
        raise CliError(f"unknown role '{value}'; choose one of {choices}") from None


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="reader, curator, reviewer or admin")] = "reader",
    orcid: Annotated[str | None, typer.Option(help="ORCID iD, e.g. 0000-0002-1825-0097")] = None,
) -> None:
    """Create a user; the last line printed is their API token (shown only this once)."""
    from api.store.commands.users import create_user
    from schema.users import Actor

    def body() -> str:
        chosen = _role(role)

        async def go(db: Database) -> str:
            async with db.write(Actor(None, "cli", Role.ADMIN)) as w:
                _, token = await create_user(w, name, chosen, orcid)
            return token

        return _with_db(go)

    token = run(body)
    err.print(f"created {role.lower()} '{name}'; keep this token, it is not stored:")
    print(token)


@users_app.command("list")
def users_list() -> None:
    """List users with their roles and whether they are active."""
    from schema.tables import ApiToken, User

    async def go(db: Database) -> list[tuple]:
        async with db.read() as session:
            live = (
                sa.select(sa.func.count())
                .where(ApiToken.user_id == User.id, ApiToken.revoked_at.is_(None))
                .scalar_subquery()
            )
            rows = await session.execute(
                sa.select(User.name, User.role, User.orcid, User.active, live).order_by(User.name)
            )
            return [tuple(r) for r in rows.all()]

    rows = run(lambda: _with_db(go))
    table = Table("name", "role", "orcid", "active", "live tokens")
    for name, role, orcid, active, tokens in rows:
        table.add_row(name, role.value.lower(), orcid or "", "yes" if active else "no", str(tokens))
    out.print(table)


@users_app.command("revoke")
def users_revoke(name: str) -> None:
    """Deactivate a user and revoke all their tokens."""
    from api.store.commands.users import revoke_user
    from schema.users import Actor

    async def go(db: Database) -> None:
        async with db.write(Actor(None, "cli", Role.ADMIN)) as w:
            await revoke_user(w, name)

    run(lambda: _with_db(go))
    out.print(f"revoked '{name}'")


# --- audit --------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit log's hash chain; exit 1 naming the first bad event if it is broken."""
    from api.store.audit import verify_log

    async def go(db: Database):  # type: ignore[no-untyped-def]
        async with db.read() as session:
            return await verify_log(session)

    result = run(lambda: _with_db(go))
    if result.broken is not None:
        raise _fail(
            f"audit chain broken at event {result.broken.event_id}: {result.broken.reason} "
            f"({result.events} events before it verified)"
        )
    out.print(f"audit chain intact: {result.events} events verified")


# --- schema -------------------------------------------------------------------------------


@app.command("export-schema")
def export_schema() -> None:
    """Print the GraphQL schema (SDL); api/schema.graphql is this output, committed."""
    from api.graphql.schema import build_schema
    from api.settings import Settings as _Settings

    print(build_schema(_Settings()).as_str())


# --- serve --------------------------------------------------------------------------------


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Run the server. A new or empty database is migrated and seeded first."""
    import uvicorn

    def prepare() -> None:
        settings = _settings()
        migrations.upgrade(settings)

        async def seed_if_empty(db: Database) -> None:
            from schema.tables import Source

            async with db.read() as session:
                has_data = await session.scalar(sa.select(Source.id).limit(1))
            if has_data is None and settings.seeds_dir.is_dir():
                report = await load_seeds(db, settings.seeds_dir)
                err.print(f"seeded an empty database: {report.total_created} rows")

        _with_db(seed_if_empty)

    run(prepare)
    err.print(f"claimsdb on http://{host}:{port}/graphql")
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers)


# --- bench --------------------------------------------------------------------------------


@app.command("bench")
def bench(
    claims: Annotated[
        int, typer.Option(help="Claims to generate (or reuse when there are enough).")
    ] = 1_000_000,
    scenarios: Annotated[
        str | None, typer.Option(help="Comma-separated scenarios: Q1,Q2,Q3,Q4,Q5,M1 (default: all).")
    ] = None,
    database: Annotated[
        str | None, typer.Option(help="Benchmark this database only (SQLite or PostgreSQL URL).")
    ] = None,
    postgres: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL server URL; default CLAIMSDB_TEST_POSTGRES_URL. Uses claimsdb_bench_* there."
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    repetitions: Annotated[int, typer.Option(help="In-process runs per measurement (at most).")] = 30,
    seconds: Annotated[float, typer.Option(help="In-process time budget per measurement.")] = 20.0,
    http: Annotated[bool, typer.Option(help="Also measure over HTTP (uvicorn).")] = True,
    http_requests: Annotated[int, typer.Option(help="Requests per HTTP concurrency level (at most).")] = 300,
    http_seconds: Annotated[float, typer.Option(help="Seconds per HTTP concurrency level (at most).")] = 15.0,
    peer: Annotated[
        bool, typer.Option(help="Compare with PostGraphile on PostgreSQL (needs node, npm).")
    ] = True,
    seed: Annotated[int, typer.Option(help="Seed of the data generator.")] = 20240611,
    data_dir: Annotated[
        str | None, typer.Option(help="Where the SQLite data and server logs go (default: a temp dir).")
    ] = None,
) -> None:
    """Benchmark the API on generated data (bench/): ratios to hand-written SQL, in one run."""
    from pathlib import Path

    from api.settings import PROJECT_ROOT

    if not (PROJECT_ROOT / "bench" / "harness.py").is_file():
        raise _fail("claimsdb bench runs from a source checkout (bench/ is not installed with the package)")
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    from bench.harness import command

    status = command(
        claims=claims, scenarios=scenarios, database=database, postgres=postgres, json_output=json_output,
        repetitions=repetitions, seconds=seconds, http=http, http_requests=http_requests,
        http_seconds=http_seconds, peer=peer, seed=seed, data_dir=Path(data_dir) if data_dir else None,
    )  # fmt: skip
    if status:
        raise typer.Exit(status)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug, not a user error: one line, the traceback on request
        if os.environ.get("CLAIMSDB_DEBUG"):
            raise
        err.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc} "
            "(set CLAIMSDB_DEBUG=1 for the traceback, and please report it)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
