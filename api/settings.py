"""Settings from the environment (prefix CLAIMSDB_), with defaults that run with no set-up."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
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


def _split_urls(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def normalize_replica_url(raw: str) -> URL:
    """One of CLAIMSDB_READ_DATABASE_URLS: a PostgreSQL URL, the driver filled in."""
    try:
        url = normalize_database_url(raw)
    except SettingsError as exc:
        message = str(exc).replace("CLAIMSDB_DATABASE_URL", "CLAIMSDB_READ_DATABASE_URLS")
        raise SettingsError(message) from None
    if url.get_backend_name() != "postgresql":
        raise SettingsError(
            f"CLAIMSDB_READ_DATABASE_URLS: '{raw}' is not PostgreSQL; replicas are PostgreSQL "
            "streaming standbys (postgresql+asyncpg://user@replica-host:5432/db), comma-separated"
        )
    return url


# CORS defaults: what the API reads from a browser, and what a browser's script may read back
# (rate-limit state, when to retry, the request id to quote in a bug report, the WAL position of
# the client's last write for read-your-writes on replicas: api/http/read_your_writes.py).
DEFAULT_CORS_ALLOW_HEADERS = ("Authorization", "Content-Type", "X-Request-Id", "X-Claimsdb-Lsn")
DEFAULT_CORS_EXPOSE_HEADERS = (
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-Request-Id",
    "X-Claimsdb-Lsn",
)
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def normalize_redis_url(raw: str) -> str:
    """The `limits` library's spelling of a Redis URL (async+redis://...), from the one Redis
    clients use (redis://host:port/db, rediss:// for TLS, unix:///path)."""
    url = raw.strip()
    if url.startswith("async+"):
        url = url.removeprefix("async+")
    if not url.startswith(_REDIS_SCHEMES):
        raise SettingsError(
            f"CLAIMSDB_REDIS_URL '{raw}' is not a Redis URL; expected e.g. redis://127.0.0.1:6379/0 "
            "(rediss:// for TLS, unix:///path/to/redis.sock)"
        )
    if url.startswith("unix://"):
        return "async+redis+unix://" + url.removeprefix("unix://")
    return "async+" + url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLAIMSDB_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///claimsdb.sqlite3"
    seeds_dir: Path = PROJECT_ROOT / "seeds"
    # Where published data releases live (one directory each, as `claimsdb release create` writes
    # them): the API lists them and serves their files at /releases/<name>/<file>. Unset: none.
    releases_dir: Path | None = None
    # How long an SQLite writer waits for the lock before the store answers "busy".
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    # Write transactions one API worker runs at once (api/store/write_slots.py): the others
    # wait their turn, so that a burst of writes leaves readers their share of the worker.
    # 0: one on SQLite (which takes one writer at a time anyway), two on PostgreSQL.
    write_concurrency: int = Field(default=0, ge=0)
    # Connection pool for PostgreSQL (per API worker process).
    pool_size: int = Field(default=10, ge=1)
    # How long a request waits for a pooled connection while all are in use (both databases)
    # before it is answered HTTP 503 with reason "busy" and Retry-After.
    pool_timeout_seconds: float = Field(default=30.0, gt=0)
    # Prepared statements each PostgreSQL connection keeps (asyncpg's cache and SQLAlchemy's).
    # 0 behind PgBouncer in transaction mode, where a connection's next transaction may run on
    # another server connection: no cache, and every statement prepared under a unique name.
    pg_statement_cache_size: int = Field(default=100, ge=0)
    # Read replicas (PostgreSQL streaming standbys), comma-separated URLs: query operations read
    # from one of them (round robin), mutations and everything they read use the primary
    # (`database_url`). A client that wrote reads its write (api/store/replicas.py).
    read_database_urls: str | None = None
    # How long a query waits for a replica to replay the client's last write before it reads
    # the primary instead; and how long a replica that could not be reached is left out.
    replica_wait_ms: int = Field(default=250, ge=0, le=10_000)
    replica_retry_seconds: float = Field(default=5.0, gt=0)

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
    # Request headers a browser may send, and response headers its scripts may read (CORS).
    cors_allow_headers: list[str] = list(DEFAULT_CORS_ALLOW_HEADERS)
    cors_expose_headers: list[str] = list(DEFAULT_CORS_EXPOSE_HEADERS)
    # How long a browser may cache a preflight answer.
    cors_max_age_seconds: int = Field(default=600, ge=0)
    # HTTP limits (api/limits_http.py). A larger request body is answered 413.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Mutations a minute per API token, and per client address for requests without a valid
    # token (failed authentication counts too); 0 turns the limit off. Shared by every worker and
    # host through Redis when `redis_url` is set, else kept in each worker's memory.
    write_rate_per_minute: int = Field(default=120, ge=0)
    anonymous_write_rate_per_minute: int = Field(default=60, ge=0)
    # Operations in one batched request (a JSON array body); 0 refuses batches.
    max_batch_operations: int = Field(default=0, ge=0, le=20)
    # Redis for the write budgets (api/rate_limits.py), e.g. redis://127.0.0.1:6379/0; keys start
    # with `redis_key_prefix`, so several deployments (or test runs) can share one server.
    redis_url: str | None = None
    redis_key_prefix: str = Field(default="claimsdb", min_length=1, max_length=100)

    # Operations (api/observability): one log line per request on standard output, as JSON or
    # as text; /metrics in Prometheus' format; OpenTelemetry traces (the `otel` extra; exporter,
    # endpoint, sampler and service name from the standard OTEL_* variables).
    log_format: Literal["json", "text"] = "json"
    metrics: bool = True
    otel: bool = False

    @field_validator("database_url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        normalize_database_url(value)
        return value

    @field_validator("redis_url")
    @classmethod
    def _valid_redis_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        normalize_redis_url(value)
        return value.strip()

    @field_validator("read_database_urls")
    @classmethod
    def _valid_read_urls(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        for raw in _split_urls(value):
            normalize_replica_url(raw)
        return value.strip()

    @model_validator(mode="after")
    def _replicas_need_postgresql(self) -> Settings:
        if self.read_database_urls is not None and self.is_sqlite:
            raise SettingsError(
                "CLAIMSDB_READ_DATABASE_URLS needs a PostgreSQL primary (CLAIMSDB_DATABASE_URL); "
                "an SQLite database has no replicas: unset CLAIMSDB_READ_DATABASE_URLS"
            )
        return self

    @cached_property
    def url(self) -> URL:
        return normalize_database_url(self.database_url)

    @cached_property
    def read_urls(self) -> tuple[URL, ...]:
        """The replicas' URLs, in the order given (empty without CLAIMSDB_READ_DATABASE_URLS)."""
        if self.read_database_urls is None:
            return ()
        return tuple(normalize_replica_url(raw) for raw in _split_urls(self.read_database_urls))

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def is_default_database(self) -> bool:
        """True for the embedded database the program uses with no set-up (the default URL, or
        another spelling of the same file): the only one `claimsdb serve` seeds by itself."""
        default = normalize_database_url(type(self).model_fields["database_url"].default)
        if not self.is_sqlite or not self.url.database or self.url.database.startswith("file:"):
            return False
        assert default.database is not None
        return Path(self.url.database).resolve() == Path(default.database).resolve()

    # --- clients (api/http): persisted queries, HTTP caching -------------------------------------
    # Apollo's automatic persisted queries (documents registered by hash at run time).
    apq: bool = True
    # Registered APQ documents live in Redis when `redis_url` (above) is set, shared by every
    # worker; else in each worker's memory.
    apq_ttl_seconds: int = Field(default=86400, ge=1)
    # A trusted-documents manifest (graphql-codegen's persisted-documents.json); with
    # persisted_only, only its documents may run.
    persisted_documents: Path | None = None
    persisted_only: bool = False
    # max-age of the public Cache-Control on anonymous GET queries (0: cache, revalidate each time).
    http_cache_max_age: int = Field(default=60, ge=0)

    @model_validator(mode="after")
    def _persisted_documents_usable(self) -> Settings:
        from api.http.persisted import ManifestError, load_manifest

        if self.persisted_only and self.persisted_documents is None:
            raise SettingsError(
                "CLAIMSDB_PERSISTED_ONLY=true needs CLAIMSDB_PERSISTED_DOCUMENTS, the path of the "
                "trusted documents manifest (persisted-documents.json)"
            )
        if self.persisted_documents is not None:
            try:
                load_manifest(self.persisted_documents)
            except ManifestError as exc:
                raise SettingsError(f"CLAIMSDB_PERSISTED_DOCUMENTS: {exc}") from None
        return self

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
