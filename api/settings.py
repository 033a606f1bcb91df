"""Settings from the environment (prefix CLAIMSDB_), with defaults that run with no set-up."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Drivers claimsdb runs on; a URL naming the plain dialect gets the async driver filled in.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}
_SUPPORTED = {"sqlite+aiosqlite", "postgresql+asyncpg", "postgresql+psycopg"}


class SettingsError(ValueError):
    """A setting that cannot work; the message names the variable and the fix."""


def normalize_database_url(raw: str) -> URL:
    try:
        url = make_url(raw)
    except ArgumentError:
        raise SettingsError(
            f"CLAIMSDB_DATABASE_URL '{raw}' is not a database URL; expected e.g. "
            "sqlite+aiosqlite:///claimsdb.sqlite3 or postgresql+asyncpg://user@host:5432/db"
        ) from None
    drivername = _ASYNC_DRIVERS.get(url.drivername, url.drivername)
    if drivername not in _SUPPORTED:
        raise SettingsError(
            f"CLAIMSDB_DATABASE_URL uses '{url.drivername}', which claimsdb does not support; "
            "use sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    return url.set(drivername=drivername)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLAIMSDB_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///claimsdb.sqlite3"
    seeds_dir: Path = PROJECT_ROOT / "seeds"
    # How long an SQLite writer waits for the lock before the store answers "busy".
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    # Connection pool for PostgreSQL (per API worker process).
    pool_size: int = Field(default=10, ge=1)
    # How long a request waits for a pooled connection while all are in use (both databases)
    # before it is answered HTTP 503 with reason "busy" and Retry-After.
    pool_timeout_seconds: float = Field(default=30.0, gt=0)

    # GraphQL safety limits (engineering.md rule 4). The defaults admit every query the frontend
    # needs (a page of 100 claims with all their context costs about 2,500).
    max_query_depth: int = Field(default=12, ge=1)
    max_query_aliases: int = Field(default=30, ge=1)
    max_query_tokens: int = Field(default=5000, ge=100)
    max_query_cost: int = Field(default=10000, ge=1)
    # Answer the query operations it supports (claim lists with their context) with JSON built by
    # the database (api/graphql/compiled) instead of field resolvers; off: resolvers answer all.
    compiled_queries: bool = True
    # Introspection and GraphiQL are on for the embedded default; turn them off in production.
    introspection: bool = True
    graphiql: bool = True
    # Origins allowed to call the API from a browser (CORS), e.g. ["https://app.example.org"].
    cors_origins: list[str] = []
    # HTTP limits (api/limits_http.py). A larger request body is answered 413.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Mutations a minute per API token, and per client address for requests without a valid
    # token (failed authentication counts too); 0 turns the limit off. The buckets are per worker.
    write_rate_per_minute: int = Field(default=120, ge=0)
    anonymous_write_rate_per_minute: int = Field(default=60, ge=0)
    # Operations in one batched request (a JSON array body); 0 refuses batches.
    max_batch_operations: int = Field(default=0, ge=0, le=20)

    @field_validator("database_url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        normalize_database_url(value)
        return value

    @cached_property
    def url(self) -> URL:
        return normalize_database_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    # --- Web workbench (api/web, pages under /ui/) ---------------------------------------------
    # Serve the workbench under /ui/ (and redirect / there); false turns both off.
    ui: bool = True
    # The key that signs the workbench's session cookies (at least 32 characters). Every worker and
    # machine serving one site must use the same key. Unset: read from `ui_secret_file`, which the
    # first worker to need it creates with a random key (mode 0600), so the workers of one machine
    # share it and sessions survive restarts; several machines must set this instead.
    ui_secret: SecretStr | None = Field(default=None, min_length=32)
    ui_secret_file: Path = Path("claimsdb-ui-secret")
    # How long a sign-in lasts; after it the curator signs in again with their API token.
    ui_session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
