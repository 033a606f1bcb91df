"""Running Alembic from claimsdb itself (the CLI, `serve`, and the tests)."""

from __future__ import annotations

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from alembic import command
from api.settings import PROJECT_ROOT, Settings

# Objects made by hand in migrations, with no model, which the models-vs-migrations comparison
# (alembic/env.py, tests/test_migrations.py) leaves alone: the native search objects of 0002 and
# 0004 (the FTS5 tables and their shadow tables on SQLite, the tsvector and trigram indexes on
# PostgreSQL), and 0010's index with a descending column, which Alembic reads back as ascending.
HAND_MADE = (
    "claim_fts",
    "ix_claim_search_tsv",
    "search_term_fts",
    "ix_search_term_trgm",
    "ix_search_term_key_c",
    "ix_claim_summary_order",
)


def include_name(name: str | None, type_: str, _parents: object = None) -> bool:
    return not (name and type_ in ("table", "index") and name.startswith(HAND_MADE))


def alembic_config(settings: Settings) -> Config:
    config = Config(toml_file=str(PROJECT_ROOT / "pyproject.toml"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    # Alembic's config interpolates %-signs; a password may contain them.
    config.set_main_option(
        "sqlalchemy.url", settings.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)


def revision(settings: Settings, message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    command.revision(alembic_config(settings), message=message, autogenerate=True)


def current(settings: Settings) -> None:
    command.current(alembic_config(settings))


def head_revision(settings: Settings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
