"""The `claimsdb` command as an operator meets it: --version, help without type noise, usage
mistakes in one line, `serve` seeding only the default embedded database (or with --demo), its
proxy options, settings checked before it starts, and `bench` naming its extra when missing."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
import sqlalchemy as sa
import typer.main
from click.testing import Result
from typer.testing import CliRunner

from api.cli import app, prepare_database, uvicorn_options, version
from api.settings import Settings
from api.store import migrations
from api.store.db import Database
from schema.tables import Source

TYPE_NOISE = ("<bool>", "<str>", "<int>", "<float>", "<path>")


def invoke(args: list[str], **env: str | None) -> Result:
    return CliRunner().invoke(app, args, env={"CLAIMSDB_SEEDS_DIR": None, **env})


def command_paths() -> list[list[str]]:
    paths: list[list[str]] = [[]]

    def walk(command: Any, path: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            paths.append([*path, name])
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def one_line_error(result: Result, *parts: str) -> str:
    assert result.exit_code == 1, f"exit {result.exit_code}: {result.output!r}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), lines
    for part in parts:
        assert part in lines[0], f"{part!r} not in {lines[0]!r}"
    return lines[0]


def test_version() -> None:
    result = invoke(["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"claimsdb {version()}"
    assert version()[0].isdigit()


def test_help_names_values_not_python_types() -> None:
    paths = command_paths()
    assert ["serve"] in paths and ["users", "add"] in paths and ["bench"] in paths
    for path in paths:
        result = invoke([*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        noise = [word for word in TYPE_NOISE if word in result.stdout]
        assert noise == [], f"`claimsdb {' '.join(path)} --help` shows {noise}:\n{result.stdout}"
    serve = invoke(["serve", "--help"]).stdout
    for option in ("--workers", "--proxy-headers", "--forwarded-allow-ips", "--demo", "PORT"):
        assert option in serve
    roles = invoke(["users", "add", "--help"]).stdout
    assert all(role in roles for role in ("reader", "curator", "reviewer", "admin"))


def test_role_is_a_fixed_choice() -> None:
    result = invoke(
        ["users", "add", "x", "--role", "owner"], CLAIMSDB_DATABASE_URL="sqlite:///unused.sqlite3"
    )
    one_line_error(result, "owner", "reader", "curator", "reviewer", "admin", "--help")


def test_usage_mistakes_are_one_line() -> None:
    one_line_error(invoke(["serve", "--workers", "0"]), "--workers", "claimsdb serve --help")
    one_line_error(invoke(["serve", "--bogus"]), "--bogus")
    one_line_error(invoke(["nope"]), "nope", "claimsdb --help")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CLAIMSDB_LOG_FORMAT", "xml"),
        ("CLAIMSDB_REDIS_URL", "http://127.0.0.1:6379"),
        ("CLAIMSDB_METRICS", "maybe"),
        # Replicas of an SQLite database, and a replica that is not PostgreSQL.
        ("CLAIMSDB_READ_DATABASE_URLS", "postgresql://root@127.0.0.1:5433/claimsdb"),
        ("CLAIMSDB_READ_DATABASE_URLS", "sqlite:///replica.sqlite3"),
    ],
)
def test_a_bad_setting_is_named(variable: str, value: str, tmp_path: Any) -> None:
    result = invoke(
        ["users", "list"], CLAIMSDB_DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3", **{variable: value}
    )
    one_line_error(result, variable)


def test_serve_checks_tracing_settings_before_it_starts(tmp_path: Any) -> None:
    result = invoke(
        ["serve", "--port", "1"],
        CLAIMSDB_DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3",
        CLAIMSDB_OTEL="true",
        OTEL_TRACES_EXPORTER="zipkin",
    )
    one_line_error(result, "OTEL_TRACES_EXPORTER=zipkin")
    assert not (tmp_path / "x.sqlite3").exists(), "nothing should be done before the settings are checked"


def test_proxy_headers_are_believed_only_when_asked() -> None:
    settings = Settings()
    common = {"host": "0.0.0.0", "port": 8000, "workers": 2, "forwarded_allow_ips": "10.0.0.0/8"}
    plain = uvicorn_options(settings, proxy_headers=False, **common)
    assert plain["proxy_headers"] is False and plain["forwarded_allow_ips"] is None
    behind = uvicorn_options(settings, proxy_headers=True, **common)
    assert behind["proxy_headers"] is True and behind["forwarded_allow_ips"] == "10.0.0.0/8"
    assert behind["workers"] == 2 and behind["access_log"] is False, "our request line replaces uvicorn's"


def test_bench_names_its_extra_when_it_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyinstrument", None)  # as if it were not installed
    one_line_error(invoke(["bench"]), "pyinstrument", "pip install 'claimsdb[bench]'")


def test_bench_defaults_to_a_small_run() -> None:
    assert "[default: 10000]" in invoke(["bench", "--help"]).stdout


# --- serve: what gets seeded -------------------------------------------------------------------


async def sources(settings: Settings) -> int:
    db = Database(settings)
    try:
        async with db.read() as session:
            return int(await session.scalar(sa.select(sa.func.count()).select_from(Source)) or 0)
    finally:
        await db.dispose()


def test_the_default_embedded_database_is_seeded(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLAIMSDB_DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.is_default_database
    assert "seeded an empty database" in prepare_database(settings)
    assert asyncio.run(sources(settings)) > 0
    assert prepare_database(settings) == "database migrated", "a second start adds nothing"


def test_which_database_is_the_default(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings(database_url="sqlite:///claimsdb.sqlite3").is_default_database
    assert Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/claimsdb.sqlite3").is_default_database
    assert not Settings(database_url=f"sqlite:///{tmp_path}/production.sqlite3").is_default_database
    assert not Settings(database_url="postgresql://root@127.0.0.1/claimsdb").is_default_database


async def test_any_other_database_is_migrated_but_not_seeded_unless_demo(empty_settings: Settings) -> None:
    message = await asyncio.to_thread(prepare_database, empty_settings)
    assert "not seeded" in message and "--demo" in message
    assert await sources(empty_settings) == 0
    db = Database(empty_settings)
    try:
        async with db.engine.connect() as connection:
            current = await connection.run_sync(migrations.current_revision)
    finally:
        await db.dispose()
    assert current == migrations.head_revision(empty_settings)
    message = await asyncio.to_thread(prepare_database, empty_settings, demo=True)
    assert "seeded an empty database" in message
    assert await sources(empty_settings) > 0


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    from api.settings import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration") : readme.index("## Operating it")]
    missing = [
        f"CLAIMSDB_{name.upper()}"
        for name in Settings.model_fields
        if f"| `CLAIMSDB_{name.upper()}` |" not in table
    ]
    assert missing == [], f"settings missing from the README's configuration table: {missing}"
