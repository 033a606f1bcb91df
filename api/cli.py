"""The `claimsdb` command.

Errors a user can make (a bad URL, an unknown role, an unmigrated or unreachable database, a
broken seed file) print one line on standard error and exit with status 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from enum import Enum
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import sqlalchemy as sa
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import DBAPIError, OperationalError

from api.importing import ImportRefused
from api.releases.directory import ReleaseError
from api.settings import Settings, SettingsError
from api.store import migrations
from api.store.db import Database
from api.store.errors import DatabaseBusy, StoreError
from api.store.seeding import SeedError, load_seeds
from schema.enums import ClaimStatus, Role

out = Console()
err = Console(stderr=True)
T = TypeVar("T")


# typer (since 0.2x) carries its own copy of click, whose UsageError is BadParameter's base class.
UsageError: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def _usage_error(exc: Any) -> NoReturn:
    """A mistake on the command line, as one line (like every error a user can cause) naming
    the command's --help, and exit status 1."""
    command = exc.ctx.command_path if exc.ctx is not None else "claimsdb"
    message = exc.format_message().replace("Value error, ", "")  # pydantic's prefix, in typer's coercion
    err.print(
        f"[bold red]error:[/] {escape(message)} (see `{command} --help`)", highlight=False, soft_wrap=True
    )
    raise typer.Exit(1)


def _plain_help(params: list[Any]) -> list[Any]:
    """Help that names what a value is (PORT, URL; the declarations give most metavars) instead
    of its Python type (<int>, <str>), and shows nothing for flags (<bool>, --help's too)."""
    for param in params:
        if param.metavar is None:
            param.metavar = "" if getattr(param, "is_flag", False) else (param.name or "value").upper()
        if getattr(param, "param_type_name", "") == "argument" and hasattr(param, "display_type_rich"):
            # An argument's type column (its name says what it is already).
            param.display_type_rich = _no_type
    return params


def _no_type(ctx: Any) -> None:
    return None


class Command(typer.core.TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_help(super().get_params(ctx))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except UsageError as exc:
            _usage_error(exc)


class Group(typer.core.TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_help(super().get_params(ctx))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except UsageError as exc:
            _usage_error(exc)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:
            _usage_error(exc)


def _typer(help: str, **options: Any) -> typer.Typer:
    return typer.Typer(help=help, cls=Group, no_args_is_help=True, add_completion=False, **options)


app = _typer(
    "A claims-and-evidence database for neuroimmunology research.",
    name="claimsdb",
    pretty_exceptions_enable=False,
)
db_app = _typer("Create and migrate the database.")
users_app = _typer("Manage users and their API tokens.")
audit_app = _typer("Check the audit log.")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")


def version() -> str:
    try:
        return metadata.version("claimsdb")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _show_version(value: bool) -> None:
    if value:
        print(f"claimsdb {version()}")
        raise typer.Exit()


@app.callback()
def _main_options(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """A claims-and-evidence database for neuroimmunology research."""


class CliError(Exception):
    """A problem to report in one line."""


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _settings() -> Settings:
    try:
        settings = Settings()
        _ = settings.url
        return settings
    except SettingsError as exc:
        raise CliError(str(exc)) from None
    except ValidationError as exc:  # pydantic wraps the SettingsError raised by a validator
        error = exc.errors()[0]
        message = str(error.get("msg", exc)).removeprefix("Value error, ")
        field = str(error["loc"][0]) if error.get("loc") else ""
        variable = f"CLAIMSDB_{field.upper()}"
        if field and variable not in message:
            message = f"{variable}: {message}"
        raise CliError(message) from None


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
    except (ReleaseError, ImportRefused) as exc:
        raise _fail(str(exc)) from None
    except StoreError as exc:
        raise _fail(str(exc)) from None
    except DatabaseBusy as exc:
        raise _fail(str(exc)) from None
    except (OperationalError, DBAPIError, OSError, ConnectionError) as exc:
        raise _fail(_describe_db_error(exc, settings)) from None


def _with_db(
    body: Callable[[Database], Awaitable[T]], *, require_head: bool = True, settings: Settings | None = None
) -> T:
    settings = settings or _settings()

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


@db_app.command("upgrade", cls=Command)
def db_upgrade(
    revision: Annotated[str, typer.Argument(metavar="REVISION", help="Target revision.")] = "head",
) -> None:
    """Migrate the database up to REVISION (default: the newest)."""
    run(lambda: migrations.upgrade(_settings(), revision))
    out.print(f"database at revision {revision}")


@db_app.command("downgrade", cls=Command)
def db_downgrade(
    revision: Annotated[str, typer.Argument(metavar="REVISION", help="Target revision, e.g. base.")],
) -> None:
    """Migrate the database down to REVISION ('base' removes every table)."""
    run(lambda: migrations.downgrade(_settings(), revision))
    out.print(f"database at revision {revision}")


@db_app.command("current", cls=Command)
def db_current() -> None:
    """Show the database's revision."""
    run(lambda: migrations.current(_settings()))


@db_app.command("check", cls=Command)
def db_check() -> None:
    """Recount every maintained aggregate from the claims; exit 1 naming any difference."""
    from api.store.queries.aggregates import aggregate_differences

    async def go(db: Database):  # type: ignore[no-untyped-def]
        async with db.read() as session:
            return await aggregate_differences(session)

    differences = run(lambda: _with_db(go))
    if differences:
        raise _fail(
            "maintained aggregates differ from the claims:\n" + "\n".join(d.describe() for d in differences)
        )
    out.print("maintained aggregates agree with the claims")


@db_app.command("revision", cls=Command)
def db_revision(
    message: Annotated[str, typer.Argument(metavar="MESSAGE", help="What the migration does.")],
) -> None:
    """Autogenerate a migration from the models (review it before committing)."""
    run(lambda: migrations.revision(_settings(), message))


# --- seed ---------------------------------------------------------------------------------


@app.command("seed", cls=Command)
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


# The roles as the command line spells them (lower case; any case is accepted).
RoleName = Enum("RoleName", {r.value.lower(): r.value.lower() for r in Role}, type=str)  # type: ignore[misc]


@users_app.command("add", cls=Command)
def users_add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The user's name (unique).")],
    role: Annotated[
        RoleName,  # type: ignore[valid-type]
        typer.Option(
            case_sensitive=False,
            metavar="ROLE",
            help="reader, curator, reviewer or admin (each may do what the ones before it may).",
        ),
    ] = RoleName("reader"),  # type: ignore[assignment]
    orcid: Annotated[
        str | None, typer.Option(metavar="ORCID", help="ORCID iD, e.g. 0000-0002-1825-0097")
    ] = None,
) -> None:
    """Create a user; the last line printed is their API token (shown only this once)."""
    from api.store.commands.users import create_user
    from schema.users import Actor

    def body() -> str:
        chosen = Role(role.value.upper())

        async def go(db: Database) -> str:
            async with db.write(Actor(None, "cli", Role.ADMIN)) as w:
                _, token = await create_user(w, name, chosen, orcid)
            return token

        return _with_db(go)

    token = run(body)
    err.print(f"created {role.value} '{name}'; keep this token, it is not stored:")
    print(token)


@users_app.command("list", cls=Command)
def users_list() -> None:
    """List users with their roles and whether they are active."""
    from schema.base import utcnow
    from schema.tables import ApiToken, User

    async def go(db: Database) -> list[tuple]:
        async with db.read() as session:
            live = (
                sa.select(sa.func.count())
                .where(
                    ApiToken.user_id == User.id,
                    ApiToken.revoked_at.is_(None),
                    sa.or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > utcnow()),
                )
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


@users_app.command("revoke", cls=Command)
def users_revoke(name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Deactivate a user and revoke all their tokens."""
    from api.store.commands.users import revoke_user
    from schema.users import Actor

    async def go(db: Database) -> None:
        async with db.write(Actor(None, "cli", Role.ADMIN)) as w:
            await revoke_user(w, name)

    run(lambda: _with_db(go))
    out.print(f"revoked '{name}'")


@users_app.command("token", cls=Command)
def users_token(
    name: Annotated[str, typer.Argument(metavar="NAME", help="An existing user.")],
    expires_in: Annotated[
        int | None,
        typer.Option(metavar="DAYS", help="The token stops working after this many days (default: never)."),
    ] = None,
    reactivate: Annotated[
        bool, typer.Option("--reactivate", help="Also reactivate a user `claimsdb users revoke` deactivated.")
    ] = False,
) -> None:
    """Issue a new API token for a user and revoke the ones they held; the last line printed is
    the token (shown only this once)."""
    from api.store.commands.users import NewToken, replace_token
    from schema.users import Actor

    async def go(db: Database) -> NewToken:
        async with db.write(Actor(None, "cli", Role.ADMIN)) as w:
            return await replace_token(w, name, expires_in_days=expires_in, reactivate=reactivate)

    made = run(lambda: _with_db(go))
    until = f", valid until {made.expires_at:%Y-%m-%d %H:%M} UTC" if made.expires_at else ""
    again = "reactivated; " if made.reactivated else ""
    err.print(
        f"new token for '{name}'{until}; {again}{made.revoked} older token(s) revoked; "
        "keep it, it is not stored:",
        highlight=False,
        soft_wrap=True,
    )
    print(made.token)


# --- sources --------------------------------------------------------------------------------

sources_app = _typer("What became of sources: corrections, expressions of concern, retractions.")
app.add_typer(sources_app, name="sources")


@sources_app.command("standing", cls=Command)
def sources_standing(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", help="JSON Lines or CSV with doi and/or pmid, standing, date (YYYY-MM-DD), note."
        ),
    ],
) -> None:
    """Apply a standing update file (a Retraction Watch or Crossref export in those columns).

    Running it twice changes nothing. Every bad row is reported with its line, and then nothing changes.

    Rows about documents this database does not hold are skipped and counted.

    A source's claims, and those of every source retelling it, inherit its standing (each is audited)."""
    from api.store.commands.standing import StandingReport, apply_standing_file
    from schema.base import utcnow
    from schema.standing import parse_standing_file
    from schema.users import Actor

    def body() -> StandingReport:
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read {file}: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CliError(f"{file} is not UTF-8 text (byte {exc.start} cannot be read)") from None
        parsed = parse_standing_file(text, name=file.name, today=utcnow().date())

        async def go(db: Database) -> StandingReport:
            async with db.write(Actor(None, "cli", Role.ADMIN)) as w:
                return await apply_standing_file(w, parsed)

        try:
            return _with_db(go)
        except StoreError as exc:
            for problem in exc.errors:
                err.print(
                    f"[bold red]error:[/] {escape(f'{file}, {problem.message}')}",
                    highlight=False,
                    soft_wrap=True,
                )
            err.print(
                f"{len(exc.errors)} problem(s) in {file}; nothing was changed",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from None

    report = run(body)
    if report.changes:
        table = Table("source", "was", "now", "since", "claims changed", title="standing changed")
        for change in report.changes:
            source = change.source
            name = source.doi or (f"PMID {source.pmid}" if source.pmid else source.title[:60])
            since = source.standing_since.isoformat() if source.standing_since else ""
            table.add_row(name, change.before.value, source.standing.value, since, str(change.claims))
        out.print(table)
    skipped = ""
    if report.unknown:
        lines = ", ".join(str(row.line) for row in report.unknown[:10])
        more = f" and {len(report.unknown) - 10} more" if len(report.unknown) > 10 else ""
        skipped = (
            f"; {_counted(len(report.unknown), 'row')} about documents not held here skipped "
            f"(line {lines}{more})"
        )
    out.print(
        f"{_counted(report.rows, 'row')}: {_counted(len(report.changes), 'source')} changed, "
        f"{report.unchanged} already so; the standing of {_counted(report.claims, 'claim')} changed with them"
        f"{skipped}",
        highlight=False,
        soft_wrap=True,
    )


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- audit --------------------------------------------------------------------------------


@audit_app.command("verify", cls=Command)
def audit_verify(
    anchor: Annotated[
        Path | None,
        typer.Option(
            "--anchor",
            metavar="MANIFEST",
            help="A release's manifest.json: also check that the chain still holds the head it published.",
        ),
    ] = None,  # fmt: skip
) -> None:
    """Walk the audit log's hash chain; exit 1 naming the first bad event if it is broken. With
    --anchor, also exit 1 unless the event a release published as the chain's head is still
    there with the same hash (a rewritten history recomputes every hash; it cannot match a
    head published before)."""
    from api.releases.directory import read_manifest, read_manifest_file
    from api.store.audit import verify_log
    from api.store.queries.audit_chain import stored_event_hash

    head = None
    if anchor is not None:
        manifest = run(lambda: read_manifest(anchor) if anchor.is_dir() else read_manifest_file(anchor))
        if manifest.audit_head is None:
            raise _fail(f"{anchor}: release {manifest.name} records no audit head (its log was empty)")
        head = manifest.audit_head

    async def go(db: Database):  # type: ignore[no-untyped-def]
        async with db.read() as session:
            stored = None if head is None else await stored_event_hash(session, head.event_id)
            return await verify_log(session), stored

    result, stored = run(lambda: _with_db(go))
    if result.broken is not None:
        raise _fail(
            f"audit chain broken at event {result.broken.event_id}: {result.broken.reason} "
            f"({result.events} events before it verified)"
        )
    if head is not None:
        if stored is None:
            raise _fail(f"audit event {head.event_id}, the head {anchor} published, is not in the log")
        if stored != head.hash:
            raise _fail(
                f"audit event {head.event_id} has hash {stored}, but {anchor} published {head.hash}: "
                "the history up to it was rewritten"
            )
        out.print(
            f"audit chain intact: {result.events} events verified; event {head.event_id} matches {anchor}"
        )
        return
    out.print(f"audit chain intact: {result.events} events verified")


# --- data in and out (docs/records.md) -------------------------------------------------------

# Claim statuses as the command line spells them (any case).
StatusName = Enum("StatusName", {s.value.lower(): s.value.lower() for s in ClaimStatus}, type=str)  # type: ignore[misc]
ExportFormat = Enum("ExportFormat", {f: f for f in ("jsonl", "csv", "parquet")}, type=str)  # type: ignore[misc]


@app.command("export", cls=Command)
def export(
    format: Annotated[
        ExportFormat,  # type: ignore[valid-type]
        typer.Option("--format", metavar="FORMAT", case_sensitive=False, help="jsonl, csv or parquet."),
    ] = "jsonl",  # type: ignore[assignment]
    status: Annotated[
        list[StatusName] | None,  # type: ignore[valid-type]
        typer.Option(
            "--status",
            metavar="STATUS",
            case_sensitive=False,
            help="Claims in this status (repeat for several; default: accepted).",
        ),
    ] = None,  # fmt: skip
    out_path: Annotated[
        Path | None, typer.Option("--out", metavar="PATH", help="Write here (default: standard output).")
    ] = None,
) -> None:
    """Write claims as records (docs/records.md): JSON Lines, CSV (one row per quote) or Parquet.
    Streams from one consistent snapshot; memory does not grow with the number of claims."""
    from api.exports import output_file, write_claims

    chosen = format.value if isinstance(format, Enum) else str(format)
    if chosen == "parquet" and out_path is None:
        raise _fail("--format parquet needs --out PATH (Parquet cannot be streamed to a terminal or pipe)")
    statuses = [ClaimStatus(s.value.upper()) for s in status] if status else [ClaimStatus.ACCEPTED]

    async def go(db: Database) -> int | None:
        try:
            with output_file(out_path) as file:
                async with db.snapshot() as session:
                    return await write_claims(chosen, session, statuses, file)
        except BrokenPipeError:
            return None

    count = run(lambda: _with_db(go))
    if count is None:  # the reader went away (`| head`): what it read was all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return
    if out_path is not None:
        out.print(f"exported {_counted(count, 'claim')} to {out_path}")


ImportFormat = Enum("ImportFormat", {f: f for f in ("jsonl", "csv", "tsv")}, type=str)  # type: ignore[misc]


@app.command("import", cls=Command)
def import_(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="JSON Lines (.jsonl), CSV or TSV files.")
    ],
    user: Annotated[
        str, typer.Option("--user", metavar="NAME", help="The curator the claims are entered as.")
    ],
    submit: Annotated[
        bool, typer.Option("--submit", help="Enter the claims SUBMITTED for review (default: DRAFT).")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every record; write nothing.")] = False,
    keep_going: Annotated[
        bool,
        typer.Option("--keep-going", help="Keep the valid records when some are rejected (exit 1 still)."),
    ] = False,
    rejects_path: Annotated[
        Path | None,
        typer.Option("--rejects", metavar="PATH", help="Also write every reject here, as JSON Lines."),
    ] = None,
    format: Annotated[
        ImportFormat | None,  # type: ignore[valid-type]
        typer.Option(
            "--format",
            metavar="FORMAT",
            case_sensitive=False,
            help="jsonl, csv or tsv (default: from the file name).",
        ),
    ] = None,  # fmt: skip
) -> None:
    """Enter claim records (docs/records.md) as DRAFT or SUBMITTED claims, never ACCEPTED: checked
    by the same rules as createClaim, audited, repeats of existing claims counted and skipped.
    All or nothing unless --keep-going; every reject is reported with file, line, field and code."""
    from api.importing import Reject, import_files

    rejects_file = rejects_path.open("wb") if rejects_path is not None else None

    def report(reject: Reject) -> None:
        err.print(escape(str(reject)), highlight=False, soft_wrap=True)
        if rejects_file is not None:
            rejects_file.write(reject.as_json())

    chosen = None if format is None else (format.value if isinstance(format, Enum) else str(format))
    try:
        options = {"submit": submit, "dry_run": dry_run, "keep_going": keep_going, "given_format": chosen}
        summary = run(
            lambda: _with_db(
                lambda db: _import_with_progress(db, import_files, files, user, report, **options)
            )
        )
    finally:
        if rejects_file is not None:
            rejects_file.close()
    status = summary.status.value
    # Sources given in full that are new (said only when there are some).
    sources = f" with {_counted(summary.sources, 'new source')}" if summary.sources else ""
    if summary.committed:
        outcome = f"imported {_counted(summary.inserted, 'claim')} as {status}{sources}"
    elif dry_run:
        outcome = (
            f"dry run: {_counted(summary.inserted, 'claim')} would be imported as {status}{sources}; "
            "nothing written"
        )
    else:
        kept = _counted(summary.inserted, "valid claim")
        outcome = f"nothing written ({kept} not imported; --keep-going keeps them)"
    line = (
        f"{outcome}; {_counted(summary.duplicates, 'duplicate')} of existing claims skipped; "
        f"{summary.rejected} of {_counted(summary.records, 'record')} rejected"
    )
    out.print(line, highlight=False, soft_wrap=True)
    if summary.rejected:
        raise typer.Exit(1)


async def _import_with_progress(
    db: Database, import_files: Any, files: list[Path], user: str, report: Any, **options: Any
) -> Any:
    """A progress bar on a terminal (rich); nothing but the summary line otherwise."""
    if not out.is_terminal:
        return await import_files(db, user, files, on_reject=report, **options)
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} records"),
                  TimeElapsedColumn(), console=err, transient=True) as bar:  # fmt: skip
        task = bar.add_task("importing", total=None)
        return await import_files(
            db, user, files, on_reject=report, progress=lambda n: bar.advance(task, n), **options
        )


release_app = _typer("Versioned data releases: create, verify, load.")
app.add_typer(release_app, name="release")


@release_app.command("create", cls=Command)
def release_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The release's name, e.g. 2026-12 or v1.2.")],
    out_dir: Annotated[Path, typer.Option("--out", metavar="DIR", help="A new (or empty) directory.")],
) -> None:
    """Write the accepted claims, their sources and the vocabulary from one snapshot, with
    manifest.json (hashes, counts, the audit chain's head) and ro-crate-metadata.json."""
    from api.releases.create import create_release, git_revision

    manifest = run(lambda: _with_db(lambda db: create_release(db, name, out_dir, revision=git_revision())))
    out.print(
        f"release {manifest.name}: {_counted(manifest.claim_count, 'claim')}, "
        f"{len(manifest.files)} files in {out_dir}"
    )


@release_app.command("verify", cls=Command)
def release_verify(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="A release directory.")],
) -> None:
    """Re-check every file's SHA-256, size and row count against the manifest."""
    from api.releases.verify import verify_release

    manifest, problems = run(lambda: verify_release(directory))
    if problems:
        for problem in problems[1:]:
            err.print(f"  also: {escape(problem)}", highlight=False, soft_wrap=True)
        raise _fail(f"release {manifest.name} does not verify: {problems[0]}")
    out.print(f"release {manifest.name} verifies: {len(manifest.files)} files, {manifest.claim_count} claims")


@release_app.command("load", cls=Command)
def release_load(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="A release directory.")],
) -> None:
    """Fill an EMPTY database (migrated, nothing in it) from a release, after verifying it."""
    from api.releases.load import load_release

    report = run(lambda: _with_db(lambda db: load_release(db, directory)))
    out.print(
        f"loaded {_counted(report.claims, 'claim')}, {_counted(report.sources, 'source')} and "
        f"{report.vocabulary} vocabulary entries from {directory}"
    )


# --- schema -------------------------------------------------------------------------------


@app.command("export-schema", cls=Command)
def export_schema() -> None:
    """Print the GraphQL schema (SDL); api/schema.graphql is this output, committed."""
    from api.graphql.schema import build_schema
    from api.settings import Settings as _Settings

    print(build_schema(_Settings()).as_str())


@app.command("export-record-schema", cls=Command)
def export_record_schema() -> None:
    """Print the JSON Schema of a claim record; docs/claim-record.schema.json is this output."""
    from schema.records import claim_record_json_schema

    print(json.dumps(claim_record_json_schema(), indent=2, ensure_ascii=False))


# --- serve --------------------------------------------------------------------------------


async def _is_empty(db: Database) -> bool:
    from schema.tables import Source

    async with db.read() as session:
        return await session.scalar(sa.select(Source.id).limit(1)) is None


def prepare_database(settings: Settings, *, demo: bool = False) -> str:
    """What `claimsdb serve` does before serving: migrate the database, and load the curated
    seeds only into an empty database that is the default embedded one (a first run from a
    checkout) or when asked to (--demo); any other database (production's) is never seeded.
    Returns what was done, as one line for the operator."""
    migrations.upgrade(settings)
    seed = demo or settings.is_default_database
    if not settings.seeds_dir.is_dir():
        seed = False

    async def go(db: Database) -> str:
        if not await _is_empty(db):
            return "database migrated"
        if not seed:
            return (
                "database migrated; it is empty and was not seeded (only the default embedded database "
                "is seeded by itself; pass --demo to load the demo seeds)"
            )
        report = await load_seeds(db, settings.seeds_dir)
        return f"database migrated; seeded an empty database with the demo seeds: {report.total_created} rows"

    return _with_db(go, settings=settings)


def _check_serving_settings(settings: Settings) -> None:
    """Settings that only fail once the server runs, checked before it starts, as one line."""
    from api.rate_limits import redis_storage

    if settings.redis_url:
        redis_storage(settings.redis_url, settings.redis_key_prefix)
    if settings.otel:
        from api.observability.tracing import _exporters, check_available

        check_available()
        _exporters()


def _metrics_directory(workers: int) -> Callable[[], None]:
    """With several workers, prometheus-client's multiprocess mode: a directory for the workers'
    value files, set before they start (a fresh one, removed at exit; or PROMETHEUS_MULTIPROC_DIR,
    whose old value files are removed, as prometheus-client requires between runs). Returns the
    clean-up to run when the server stops."""
    from api.observability.metrics import MULTIPROC_ENV

    given = os.environ.get(MULTIPROC_ENV)
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        for old in Path(given).glob("*.db"):
            old.unlink()
        return lambda: None
    if workers <= 1:
        return lambda: None
    directory = tempfile.mkdtemp(prefix="claimsdb-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    return lambda: shutil.rmtree(directory, ignore_errors=True)


def uvicorn_options(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int,
    proxy_headers: bool,
    forwarded_allow_ips: str,
) -> dict[str, Any]:
    """uvicorn.run's arguments. The request log is ours (one line per request, in the
    CLAIMSDB_LOG_FORMAT), so uvicorn's access log is off and its own messages use our format.
    X-Forwarded-For/-Proto are believed only with --proxy-headers, and only from
    --forwarded-allow-ips (uvicorn alone would trust them from 127.0.0.1 by default)."""
    from api.observability.logs import uvicorn_log_config

    return {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "proxy_headers": proxy_headers,
        "forwarded_allow_ips": forwarded_allow_ips if proxy_headers else None,
        "access_log": False,
        "log_config": uvicorn_log_config(settings.log_format),
    }


@app.command("serve", cls=Command)
def serve(
    host: Annotated[str, typer.Option(metavar="HOST", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="TCP port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            metavar="N",
            min=1,
            help="Worker processes. Set CLAIMSDB_REDIS_URL so they share the write rate limits.",
        ),
    ] = 1,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            "--proxy-headers",
            help="Behind a reverse proxy: take the client's address and scheme from X-Forwarded-For "
            "and X-Forwarded-Proto (sent by --forwarded-allow-ips only).",
        ),
    ] = False,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            metavar="IPS",
            help="Comma-separated addresses or networks of the proxies to believe, or '*' for any.",
        ),
    ] = "127.0.0.1",
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo seeds into an empty database, whichever it is.")
    ] = False,
) -> None:
    """Run the server (the database is migrated first).

    Only an empty default embedded database, or any empty one with --demo, gets the demo seeds."""
    import uvicorn

    from api import serve_workers

    def prepare() -> dict[str, Any]:
        settings = _settings()
        _check_serving_settings(settings)
        err.print(prepare_database(settings, demo=demo))
        return uvicorn_options(
            settings,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=proxy_headers,
            forwarded_allow_ips=forwarded_allow_ips,
        )

    options = run(prepare)
    clean_up = _metrics_directory(workers)
    err.print(f"claimsdb on http://{host}:{port}/graphql ({workers} worker{'s' if workers > 1 else ''})")
    try:
        if workers > 1 and serve_workers.available():  # a socket per worker (api/serve_workers.py)
            del options["workers"]
            status = serve_workers.run("api.app:create_app", options, workers)
            if status:
                raise typer.Exit(status)
        else:
            uvicorn.run("api.app:create_app", **options)
    finally:
        clean_up()


# --- bench --------------------------------------------------------------------------------

# Modules of the `bench` extra (pyproject.toml); bench/ imports them.
BENCH_MODULES = ("httpx", "pyinstrument")
BENCH_HINT = "pip install 'claimsdb[bench]'"


def _missing_modules(names: tuple[str, ...]) -> list[str]:
    return [name for name in names if importlib.util.find_spec(name) is None]


@app.command("bench", cls=Command)
def bench(
    claims: Annotated[
        int,
        typer.Option(
            metavar="N",
            help="Claims to generate (or reuse when there are enough); bench/RESULTS.md uses 1000000.",
        ),
    ] = 10_000,
    scenarios: Annotated[
        str | None,
        typer.Option(metavar="LIST", help="Comma-separated scenarios: Q1,Q2,Q3,Q4,Q5,M1 (default: all)."),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Benchmark this database only (SQLite or PostgreSQL URL)."),
    ] = None,
    postgres: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="PostgreSQL server URL; default CLAIMSDB_TEST_POSTGRES_URL. Uses claimsdb_bench_* there.",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    repetitions: Annotated[
        int, typer.Option(metavar="N", help="In-process runs per measurement (at most).")
    ] = 30,
    seconds: Annotated[
        float, typer.Option(metavar="SECONDS", help="In-process time budget per measurement.")
    ] = 20.0,
    http: Annotated[bool, typer.Option(help="Also measure over HTTP (uvicorn).")] = True,
    http_requests: Annotated[
        int, typer.Option(metavar="N", help="Requests per HTTP concurrency level (at most).")
    ] = 300,
    http_seconds: Annotated[
        float, typer.Option(metavar="SECONDS", help="Seconds per HTTP concurrency level (at most).")
    ] = 15.0,
    peer: Annotated[
        bool, typer.Option(help="Compare with PostGraphile on PostgreSQL (needs node, npm).")
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            metavar="N",
            min=0,
            help="Also serve Q1 at concurrency 8 with 1 and N workers and PostGraphile, on PostgreSQL "
            "(0: skip).",
        ),
    ] = 0,
    workers_rounds: Annotated[
        int, typer.Option(metavar="N", min=1, help="Rounds of the workers comparison (medians are reported).")
    ] = 2,
    seed: Annotated[int, typer.Option(metavar="N", help="Seed of the data generator.")] = 20240611,
    data_dir: Annotated[
        str | None,
        typer.Option(metavar="DIR", help="Where the SQLite data and server logs go (default: a temp dir)."),
    ] = None,
) -> None:
    """Benchmark the API on generated data (bench/): ratios to hand-written SQL, in one run."""
    from api.settings import PROJECT_ROOT

    if not (PROJECT_ROOT / "bench" / "harness.py").is_file():
        raise _fail("claimsdb bench runs from a source checkout (bench/ is not installed with the package)")
    missing = _missing_modules(BENCH_MODULES)
    if missing:
        raise _fail(f"claimsdb bench needs its extra ({', '.join(missing)} missing): {BENCH_HINT}")
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    try:
        from bench.harness import command
    except ModuleNotFoundError as exc:  # a dependency of bench/ the list above does not name
        raise _fail(f"claimsdb bench needs its extra ({exc.name} missing): {BENCH_HINT}") from None

    status = command(
        claims=claims, scenarios=scenarios, database=database, postgres=postgres, json_output=json_output,
        repetitions=repetitions, seconds=seconds, http=http, http_requests=http_requests,
        http_seconds=http_seconds, peer=peer, workers=workers, workers_rounds=workers_rounds, seed=seed,
        data_dir=Path(data_dir) if data_dir else None,
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
