"""Helpers for the reliability suites (test_load.py, test_faults.py): the real server in a
subprocess, an HTTP client that keeps figures, a ledger of what the server acknowledged, and
checks over the whole database that every write is whole and matches the audit log.

Not a test module (no `test_` prefix).

The server runs as its own process (uvicorn, or `claimsdb serve`), as in production: requests
cross a real socket, the process can be killed with SIGKILL, and the test reads the database
with its own connections afterwards. Every request carries a unique `X-Request-Id`, which the
server stores on the audit events the request wrote; that is how a test tells, for each request,
whether it wrote and what (see `Ledger` and `check_ledger`).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from api.settings import PROJECT_ROOT, Settings
from api.store.audit import VerifyResult, verify_log
from api.store.db import Database
from bench.http_load import free_port, percentile, tail, wait_for_healthz
from schema.bearing import target_level_direction
from schema.enums import EffectDirection, TargetAction
from schema.tables import AuditEvent, Claim, InterventionAction

# Where the suites write their figures (one JSON file per test and database) when asked to:
# bench/reliability.py sets it and turns the files into docs/reliability.md.
FIGURES_ENV = "CLAIMSDB_RELIABILITY_FIGURES"

# Generous on purpose: a loaded 2-core machine may take many seconds to start Python, migrate and
# answer; the verdicts are about correctness, never about speed.
STARTUP_SECONDS = 180.0
REQUEST_TIMEOUT = 180.0


def record_figures(suite: str, test: str, backend: str, figures: dict[str, Any]) -> Path | None:
    """Write a test's figures to $CLAIMSDB_RELIABILITY_FIGURES/<suite>-<test>-<backend>.json."""
    directory = os.environ.get(FIGURES_ENV, "").strip()
    if not directory:
        return None
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    target = path / f"{suite}-{test}-{backend}.json"
    document = {"suite": suite, "test": test, "backend": backend, **figures}
    target.write_text(json.dumps(document, indent=2, sort_keys=True, default=str))
    return target


def env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, not {raw!r}")
    return value


# --- the server process ---------------------------------------------------------------------


def server_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a server or CLI process on `settings`' database. The write rate limit is
    off: these suites measure the store under many writers, not the limiter (test_limits_http)."""
    env = {
        **os.environ,
        "CLAIMSDB_DATABASE_URL": settings.url.render_as_string(hide_password=False),
        "CLAIMSDB_WRITE_RATE_PER_MINUTE": "0",
        "CLAIMSDB_ANONYMOUS_WRITE_RATE_PER_MINUTE": "0",
        "PYTHONPATH": str(PROJECT_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def cli_command(*args: str) -> list[str]:
    """`claimsdb ARGS` as a process of this interpreter (the installed script may be elsewhere)."""
    return [sys.executable, "-m", "api.cli", *args]


@dataclass
class ServerProcess:
    """One server on one database, started (and restarted) as a child process.

    mode "uvicorn": `python -m uvicorn api.app:create_app --factory` (no access log, which would
    cost the load test CPU); mode "serve": `claimsdb serve`, which also migrates the database
    (and seeds it when empty) before serving, as a production restart does."""

    settings: Settings
    log_dir: Path
    mode: str = "uvicorn"
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    log: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        if self.mode == "serve":
            return cli_command("serve", "--host", "127.0.0.1", "--port", str(self.port))
        return [
            sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
            "--port", str(self.port), "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip

    def spawn(self) -> None:
        """Start the process (on a new free port) and return at once."""
        assert self.process is None or self.process.poll() is not None, "the server is running"
        self.port = free_port()
        self.starts += 1
        self.log = self.log_dir / f"server-{self.mode}-{self.starts}-{self.port}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self._command(),
                env=server_env(self.settings, **self.extra_env),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=PROJECT_ROOT,
            )

    async def start(self) -> None:
        """Start the server and wait until /healthz answers 200."""
        self.spawn()
        await self._wait_healthy()

    async def _wait_healthy(self) -> None:
        assert self.process is not None and self.log is not None
        problem = await wait_for_healthz(self.process, self.base_url, STARTUP_SECONDS)
        if problem is not None:
            raise AssertionError(f"the server {problem}: {tail(self.log)}")

    def kill(self) -> int:
        """SIGKILL, as a crash or the OOM killer would: no shutdown code runs. The exit status."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        return self.process.wait(timeout=60)

    async def stop(self, grace: float = 30.0) -> None:
        """A clean stop (SIGTERM), SIGKILL if it does not end in `grace` seconds."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, grace)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)

    def log_tail(self) -> str:
        return tail(self.log) if self.log else "(not started)"


async def run_cli(settings: Settings, *args: str, seconds: float = 300.0) -> subprocess.CompletedProcess[str]:
    """`claimsdb ARGS` in a subprocess on `settings`' database; waits for it to end."""
    return await asyncio.to_thread(
        subprocess.run,
        cli_command(*args),
        env=server_env(settings),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=seconds,
    )


# --- an HTTP client that keeps figures ------------------------------------------------------

BUSY = "SERVICE_BUSY"
# How often a client retries a write the server answered SERVICE_BUSY (SQLite's lock was held past
# busy_timeout and the server's own retries): what any client of the API is told to do.
BUSY_RETRIES = 50


@dataclass
class Stats:
    """What the clients sent and what came back, per kind of request."""

    requests: Counter[str] = field(default_factory=Counter)
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[int] = field(default_factory=Counter)
    busy: int = 0  # SERVICE_BUSY answers (each retried)
    user_errors: Counter[str] = field(default_factory=Counter)  # userErrors codes
    top_level_errors: Counter[str] = field(default_factory=Counter)  # top-level errors other than busy
    transport_errors: int = 0
    problems: list[str] = field(default_factory=list)  # answers no client may ever get

    @property
    def http_5xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def summary(self) -> dict[str, Any]:
        every = sorted(x for values in self.latencies_ms.values() for x in values)
        return {
            "requests_total": sum(self.requests.values()),
            "requests_by_kind": dict(sorted(self.requests.items())),
            "http_statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "http_5xx": self.http_5xx,
            "busy_answers": self.busy,
            "user_errors_by_code": dict(sorted(self.user_errors.items())),
            "top_level_errors_by_code": dict(sorted(self.top_level_errors.items())),
            "transport_errors": self.transport_errors,
            "latency_ms": {
                "all": _latency(every),
                **{kind: _latency(sorted(values)) for kind, values in sorted(self.latencies_ms.items())},
            },
        }


def _latency(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    return {
        "p50": round(statistics.median(values), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(values[-1], 1),
    }


@dataclass
class Answer:
    request_id: str
    body: dict[str, Any] | None  # None when the request failed in transport (outcome unknown)
    status: int | None

    @property
    def data(self) -> dict[str, Any]:
        assert self.body is not None
        return self.body.get("data") or {}

    @property
    def errors(self) -> list[dict[str, Any]]:
        return (self.body or {}).get("errors") or []


class TransportFailure(Exception):
    """The request got no answer (the server died or the connection broke): outcome unknown."""

    def __init__(self, request_id: str, cause: BaseException) -> None:
        super().__init__(f"{request_id}: {type(cause).__name__}: {cause}")
        self.request_id = request_id


class Client:
    """httpx against one server; every request gets a unique X-Request-Id and is counted."""

    def __init__(self, base_url: str, stats: Stats, prefix: str, connections: int = 64) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.http = httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT, limits=limits)
        self.stats = stats
        self.prefix = prefix
        self._ids = itertools.count()
        self.in_flight = 0  # requests sent and not yet answered
        # Request ids of attempts the server refused as busy: they must have written nothing.
        self.busy_request_ids: list[str] = []

    async def close(self) -> None:
        await self.http.aclose()

    def next_request_id(self) -> str:
        return f"{self.prefix}-{next(self._ids)}"

    async def post(self, kind: str, query: str, variables: dict[str, Any], token: str | None) -> Answer:
        """POST /graphql; retries SERVICE_BUSY (with a fresh request id each time), records
        everything a client must never see in `stats.problems`. Raises TransportFailure when no
        answer came."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for attempt in range(BUSY_RETRIES):
            request_id = self.next_request_id()
            headers["X-Request-Id"] = request_id
            began = time.perf_counter()
            self.in_flight += 1
            try:
                response = await self.http.post(
                    "/graphql", json={"query": query, "variables": variables}, headers=headers
                )
            except httpx.TransportError as exc:
                self.stats.transport_errors += 1
                raise TransportFailure(request_id, exc) from exc
            finally:
                self.in_flight -= 1
            elapsed = (time.perf_counter() - began) * 1000
            self.stats.requests[kind] += 1
            self.stats.latencies_ms[kind].append(elapsed)
            self.stats.statuses[response.status_code] += 1
            text = response.text
            if "database is locked" in text.lower():
                self.stats.problems.append(f"{kind} {request_id}: 'database is locked' reached the client")
            if response.status_code != 200:
                self.stats.problems.append(f"{kind} {request_id}: HTTP {response.status_code}: {text[:300]}")
                return Answer(request_id, None, response.status_code)
            body = response.json()
            errors = body.get("errors") or []
            codes = [(e.get("extensions") or {}).get("code") for e in errors]
            if errors and all(code == BUSY for code in codes):
                self.stats.busy += 1
                self.busy_request_ids.append(request_id)
                await asyncio.sleep(min(0.05 * (attempt + 1), 1.0))
                continue
            for error, code in zip(errors, codes, strict=True):
                message = str(error.get("message"))
                self.stats.top_level_errors[str(code)] += 1
                if message == "Internal server error." or "lock" in message.lower():
                    self.stats.problems.append(f"{kind} {request_id}: {message}")
            return Answer(request_id, body, response.status_code)
        self.stats.problems.append(f"{kind}: still SERVICE_BUSY after {BUSY_RETRIES} attempts")
        return Answer(request_id, None, 200)


# --- mutations and what they acknowledged --------------------------------------------------------

CLAIM_SELECTION = "id version status statement direction modality"
MUTATIONS = {
    "createClaim": "CreateClaimInput",
    "updateClaim": "UpdateClaimInput",
    "addEvidence": "AddEvidenceInput",
    "submitClaim": "ClaimTransitionInput",
    "reviewClaim": "ReviewClaimInput",
    "retractClaim": "RetractClaimInput",
    "reviewRevision": "ReviewRevisionInput",
}
# Claim events that make no new version of the claim: a proposed change waits for a reviewer,
# and a rejected or withdrawn one never applies; a source's standing is the source's, not the claim's.
UNVERSIONED_CLAIM_ACTIONS = frozenset(
    {"claim.revision.propose", "claim.revision.reject", "claim.revision.withdraw", "claim.source_standing"}
)


def mutation(name: str) -> str:
    # Every claim payload names the revision an edit of an ACCEPTED claim proposed (null otherwise).
    return (
        f"mutation($input: {MUTATIONS[name]}!) {{ {name}(input: $input) {{ "
        f"claim {{ {CLAIM_SELECTION} }} revision {{ id status baseVersion }} "
        f"userErrors {{ field message code }} }} }}"
    )


def actor_of(token: str) -> str:
    """Who sent a request, without carrying the token into assertion messages."""
    return hashlib.sha256(token.encode()).hexdigest()[:8]


CLAIM_STATE_QUERY = "query($id: ID!) { node(id: $id) { ... on Claim { id version status } } }"


@dataclass(frozen=True)
class Ack:
    """A write the server acknowledged: the claim as the answer showed it."""

    request_id: str
    op: str
    claim_id: str
    version: int
    status: str
    statement: str
    direction: str
    modality: str


@dataclass(frozen=True)
class RevisionAck:
    """A write the server acknowledged that made no claim version: a revision proposed (an edit of
    an ACCEPTED claim) or rejected. `action` is the audit event it must have written."""

    request_id: str
    op: str
    claim_id: str
    revision_id: str
    base_version: int
    action: str
    actor: str


@dataclass(frozen=True)
class Refusal:
    request_id: str
    op: str
    claim_id: str | None
    expected_version: int | None
    codes: tuple[str, ...]
    actor: str = ""


@dataclass(frozen=True)
class Failed:
    """An answer that was not a payload (a top-level error); recorded as a problem already."""

    request_id: str


@dataclass
class Ledger:
    acks: list[Ack] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    # Requests that got no answer (the server was killed under them): whole or absent, either way.
    unknown: set[str] = field(default_factory=set)
    # Request ids whose answer said nothing was written (busy answers, plain failures).
    wrote_nothing: set[str] = field(default_factory=set)
    revision_acks: list[RevisionAck] = field(default_factory=list)

    def proposed_before(self, refusal: Refusal) -> bool:
        """Whether the refused request's sender had proposed a revision of the same claim (a second
        pending revision by one author is refused as DUPLICATE)."""
        return any(
            (r.action, r.claim_id, r.actor) == ("claim.revision.propose", refusal.claim_id, refusal.actor)
            for r in self.revision_acks
        )

    def acked_by_claim(self) -> dict[str, list[Ack]]:
        out: dict[str, list[Ack]] = defaultdict(list)
        for ack in self.acks:
            out[ack.claim_id].append(ack)
        return out


async def send_mutation(
    client: Client, ledger: Ledger, name: str, input: dict[str, Any], token: str
) -> Ack | RevisionAck | Refusal | Failed:
    """Run one claim mutation and enter its outcome in the ledger. Raises TransportFailure when no
    answer came (the request id then goes to `ledger.unknown`)."""
    try:
        answer = await client.post(name, mutation(name), {"input": input}, token)
    except TransportFailure as exc:
        ledger.unknown.add(exc.request_id)
        raise
    ledger.wrote_nothing.update(client.busy_request_ids)
    client.busy_request_ids.clear()
    if answer.body is None or answer.errors:
        ledger.wrote_nothing.add(answer.request_id)
        if answer.body is not None:  # a top-level error other than busy: no client input causes one here
            client.stats.problems.append(f"{name} {answer.request_id}: top-level errors {answer.errors}")
        return Failed(answer.request_id)
    payload = answer.data[name]
    if payload["userErrors"]:
        codes = tuple(e["code"] for e in payload["userErrors"])
        for code in codes:
            client.stats.user_errors[code] += 1
        if payload["claim"] is not None:
            client.stats.problems.append(f"{name} {answer.request_id}: refused but returned a claim")
        refusal = Refusal(
            answer.request_id,
            name,
            input.get("id") or input.get("claim"),
            input.get("expectedVersion"),
            codes,
            actor_of(token),
        )
        ledger.refusals.append(refusal)
        ledger.wrote_nothing.add(answer.request_id)
        return refusal
    claim, revision = payload["claim"], payload.get("revision")
    # A revision proposed, or one rejected: the claim stays at its version.
    action = None
    if revision is not None and name != "reviewRevision":
        action = "claim.revision.propose"
    elif revision is not None and revision["status"] == "REJECTED":
        action = "claim.revision.reject"
    if action is not None:
        assert revision is not None
        revision_ack = RevisionAck(
            answer.request_id, name, claim["id"], revision["id"], revision["baseVersion"], action,
            actor_of(token),
        )  # fmt: skip
        ledger.revision_acks.append(revision_ack)
        return revision_ack
    ack = Ack(
        answer.request_id, name, claim["id"], claim["version"], claim["status"], claim["statement"],
        claim["direction"], claim["modality"],
    )  # fmt: skip
    ledger.acks.append(ack)
    return ack


# --- reading the database --------------------------------------------------------------------


async def verify_audit(db: Database) -> VerifyResult:
    async with db.read() as session:
        return await verify_log(session)


async def audit_events(db: Database, since_id: int = 0) -> list[AuditEvent]:
    async with db.read() as session:
        rows = await session.scalars(
            sa.select(AuditEvent).where(AuditEvent.id > since_id).order_by(AuditEvent.id)
        )
        return list(rows.all())


async def last_event_id(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0)


def decode_id(global_id: str) -> int:
    import base64

    raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    return int(raw.partition(":")[2])


# The claim fields an audit event's `after` may carry and the row holds, compared by replay.
REPLAYED = ("statement", "status", "version", "direction", "modality", "evidence_type", "sample_type")


def _bulk_ids(after: dict[str, Any]) -> list[int]:
    """The claim ids a claim.bulk_import event names (runs of consecutive ids)."""
    out: list[int] = []
    for run in after.get("ids") or []:
        if len(run) == 2:
            out.extend(range(run[0], run[1] + 1))
        else:
            out.extend(run)
    return out


async def check_consistency(db: Database) -> list[str]:
    """Every row whole and every change audited, checked with SQL over the whole database:

    - each claim has its quotes, its claim_search document (statement and quotes, as the store
      writes it), and exactly the claim_target rows schema.bearing gives for its subject;
    - each claim was created by an audit event (claim.create, or a claim.bulk_import naming it),
      and each claim.create event's claim exists;
    - replaying a claim's events (create, then every change's `after`) gives the row as stored, one
      event per version, versions contiguous from 1;
    - its quotes are those of its create event plus one per claim.add_evidence event;
    - its reviews are one per claim.review.* event;
    - every cohort, source and user row has its create event, and every create event its row;
    - on SQLite, the FTS5 index agrees with claim_search (its integrity-check).
    Returns the problems found (empty when all holds)."""
    problems: list[str] = []
    async with db.read() as session:
        claims = {c.id: c for c in (await session.scalars(sa.select(Claim))).all()}
        evidence: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for claim_id, position, quote in await session.execute(
            sa.text("SELECT claim_id, position, quote FROM evidence ORDER BY claim_id, position")
        ):
            evidence[claim_id].append((position, quote))
        search = dict((await session.execute(sa.text("SELECT claim_id, document FROM claim_search"))).all())
        targets: dict[int, set[tuple[int, int | None, str | None]]] = defaultdict(set)
        for claim_id, target_id, via, direction in await session.execute(
            sa.text("SELECT claim_id, target_id, via_intervention_id, target_direction FROM claim_target")
        ):
            targets[claim_id].add((target_id, via, direction))
        actions: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for action in (await session.scalars(sa.select(InterventionAction))).all():
            actions[action.intervention_id].append((action.target_id, TargetAction(action.action)))
        reviews = Counter(
            claim_id for (claim_id,) in await session.execute(sa.text("SELECT claim_id FROM review"))
        )
        rows_of = {
            table: {i for (i,) in await session.execute(sa.text(f"SELECT id FROM {table}"))}
            for table in ("cohort", "source", "app_user")
        }
        events = list((await session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))).all())

    orphans = sorted(set(evidence) - set(claims))
    if orphans:
        problems.append(f"evidence rows of claims that do not exist: {orphans[:10]}")
    for claim_id in sorted(set(search) - set(claims)):
        problems.append(f"claim_search row of claim {claim_id}, which does not exist")
    for claim_id in sorted(set(targets) - set(claims)):
        problems.append(f"claim_target rows of claim {claim_id}, which does not exist")

    by_claim: dict[int, list[AuditEvent]] = defaultdict(list)
    created: dict[int, AuditEvent | None] = {}
    created_rows: dict[str, set[int]] = {"Cohort": set(), "Source": set(), "User": set()}
    for event in events:
        if event.entity_type == "Claim":
            if event.action == "claim.bulk_import":
                for claim_id in _bulk_ids(event.after or {}):
                    if claim_id in created:
                        problems.append(f"claim {claim_id} is created by two audit events")
                    created[claim_id] = None  # bulk: created at version 1 with its quotes
            elif event.action in UNVERSIONED_CLAIM_ACTIONS:
                continue
            elif event.action == "claim.create":
                if event.entity_id in created:
                    problems.append(f"claim {event.entity_id} is created by two audit events")
                created[event.entity_id] = event
            else:
                by_claim[event.entity_id].append(event)
        elif event.action in ("cohort.create", "source.create", "user.create"):
            created_rows[event.entity_type].add(event.entity_id)
        elif event.action in ("cohort.bulk_import", "source.bulk_import"):
            created_rows[event.entity_type].update(_bulk_ids(event.after or {}))

    for claim_id in sorted(set(created) - set(claims)):
        problems.append(f"audit event creates claim {claim_id}, which is not in the claim table")
    for claim_id in sorted(set(by_claim) - set(claims)):
        problems.append(f"audit events change claim {claim_id}, which is not in the claim table")
    for table, entity in (("cohort", "Cohort"), ("source", "Source"), ("app_user", "User")):
        for missing in sorted(rows_of[table] - created_rows[entity])[:10]:
            problems.append(f"{table} {missing} has no audit event creating it")
        for missing in sorted(created_rows[entity] - rows_of[table])[:10]:
            problems.append(f"an audit event creates {table} {missing}, which is not in the table")

    for claim_id, claim in sorted(claims.items()):
        quotes = evidence.get(claim_id, [])
        if not quotes:
            problems.append(f"claim {claim_id} has no evidence")
        expected_document = "\n".join([claim.statement, *(q for _, q in quotes)])
        if search.get(claim_id) != expected_document:
            problems.append(f"claim {claim_id}'s claim_search row does not match its statement and quotes")
        want = _bearing(claim, actions)
        if targets.get(claim_id, set()) != want:
            problems.append(
                f"claim {claim_id}'s claim_target rows {sorted(targets.get(claim_id, set()), key=str)} "
                f"are not {sorted(want, key=str)}"
            )
        if claim_id not in created:
            problems.append(f"claim {claim_id} has no audit event creating it")
            continue
        create = created[claim_id]
        changes = by_claim.get(claim_id, [])
        state: dict[str, Any] = {"version": 1}
        quote_count = None
        if create is not None:
            state.update({k: v for k, v in (create.after or {}).items() if k in REPLAYED})
            if "evidence" in (create.after or {}):  # a bulk import's per-claim event lists no quotes
                quote_count = len((create.after or {})["evidence"])
        for number, event in enumerate(changes, start=2):
            after = event.after or {}
            if after.get("version") != number:
                problems.append(
                    f"claim {claim_id}: event {event.id} ({event.action}) made version "
                    f"{after.get('version')}, expected {number} (versions must be contiguous)"
                )
            state.update({k: v for k, v in after.items() if k in REPLAYED})
            if event.action == "claim.add_evidence" and quote_count is not None:
                quote_count += 1
        row = {
            "statement": claim.statement, "status": claim.status.value, "version": claim.version,
            "direction": claim.direction, "modality": claim.modality.value,
            "evidence_type": claim.evidence_type.value, "sample_type": claim.sample_type,
        }  # fmt: skip
        mismatched = {k: (state[k], row[k]) for k in state if state[k] != row[k]}
        if mismatched:
            problems.append(f"claim {claim_id}: the audit log replays to {mismatched} (log, row)")
        if claim.version != 1 + len(changes):
            problems.append(f"claim {claim_id} is at version {claim.version} after {len(changes)} changes")
        if quote_count is not None and quote_count != len(quotes):
            problems.append(f"claim {claim_id} has {len(quotes)} quotes; its audit events add {quote_count}")
        review_events = sum(1 for e in changes if e.action.startswith("claim.review."))
        if reviews.get(claim_id, 0) != review_events:
            problems.append(
                f"claim {claim_id} has {reviews.get(claim_id, 0)} reviews and {review_events} review events"
            )
    if db.is_sqlite:
        problems += await _fts_integrity(db)
    return problems


def _bearing(
    claim: Claim, actions: dict[int, list[tuple[int, Any]]]
) -> set[tuple[int, int | None, str | None]]:
    direction = EffectDirection(claim.direction)
    if claim.subject_target_id is not None:
        return {(claim.subject_target_id, None, direction.value)}
    out = set()
    for target_id, action in actions.get(claim.subject_intervention_id or 0, []):
        level = target_level_direction(direction, action)
        out.add((target_id, claim.subject_intervention_id, level.value if level else None))
    return out


async def _fts_integrity(db: Database) -> list[str]:
    """FTS5's own check that its index holds exactly claim_search's documents."""
    from sqlalchemy.exc import DatabaseError

    try:
        async with db.engine.connect() as connection:
            await connection.execute(sa.text("INSERT INTO claim_fts(claim_fts) VALUES ('integrity-check')"))
            await connection.rollback()
    except DatabaseError as exc:
        return [f"the FTS5 index disagrees with claim_search: {exc.orig}"]
    return []


def check_ledger(ledger: Ledger, events: Iterable[AuditEvent], prefix: str) -> list[str]:
    """What the server acknowledged against what the audit log says was written, for requests
    whose id starts with `prefix`:

    - every acknowledged write wrote audit events, and one of them is the acknowledged claim's
      change to exactly the acknowledged version, with the acknowledged content (replayed);
    - no two acknowledged writes made the same version of a claim (a lost update would);
    - a request answered with a refusal or a busy error wrote nothing;
    - every event written under the prefix belongs to an acknowledged request or to one whose
      answer never came (the server was killed under it), never to a refused one;
    - every VERSION_CONFLICT named a version the claim had indeed left."""
    problems: list[str] = []
    events = [e for e in events if (e.request_id or "").startswith(prefix)]
    ledger = Ledger(
        [a for a in ledger.acks if a.request_id.startswith(prefix)],
        [r for r in ledger.refusals if r.request_id.startswith(prefix)],
        {u for u in ledger.unknown if u.startswith(prefix)},
        {w for w in ledger.wrote_nothing if w.startswith(prefix)},
        [r for r in ledger.revision_acks if r.request_id.startswith(prefix)],
    )
    by_request: dict[str, list[AuditEvent]] = defaultdict(list)
    for event in events:
        by_request[event.request_id or ""].append(event)

    acked = {ack.request_id for ack in ledger.acks} | {r.request_id for r in ledger.revision_acks}
    for request_id in sorted(set(by_request) - set(acked) - ledger.unknown):
        what = "was refused" if request_id in ledger.wrote_nothing else "was never sent"
        problems.append(
            f"request {request_id} {what}, yet wrote {[e.action for e in by_request[request_id]]}"
        )
    seen_versions: dict[tuple[str, int], str] = {}
    for ack in ledger.acks:
        key = (ack.claim_id, ack.version)
        if key in seen_versions:
            problems.append(
                f"{ack.op} {ack.request_id} and {seen_versions[key]} were both acknowledged as version "
                f"{ack.version} of {ack.claim_id}: one overwrote the other (lost update)"
            )
        seen_versions[key] = ack.request_id
        claim_id = decode_id(ack.claim_id)
        mine = [e for e in by_request.get(ack.request_id, []) if e.entity_type == "Claim"]
        matching = [
            e for e in mine if e.entity_id == claim_id and (e.after or {}).get("version") == ack.version
        ]
        if len(matching) != 1:
            problems.append(
                f"{ack.op} {ack.request_id} was acknowledged (claim {claim_id} version {ack.version}) but "
                f"the audit log holds {len(matching)} events for it: {[e.action for e in mine]}"
            )
    for r in ledger.revision_acks:
        claim_id = decode_id(r.claim_id)
        mine = [e for e in by_request.get(r.request_id, []) if e.entity_type == "Claim"]
        matching = [
            e for e in mine
            if e.entity_id == claim_id and e.action == r.action
            and (e.after or {}).get("revision_id") == decode_id(r.revision_id)
        ]  # fmt: skip
        if len(matching) != 1 or len(mine) != 1:
            problems.append(
                f"{r.op} {r.request_id} was acknowledged ({r.action} of claim {claim_id}) but the audit "
                f"log holds {[e.action for e in mine]} for it"
            )
    # Replay each claim's events to check acknowledged content at its version.
    history: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
    states: dict[int, dict[str, Any]] = {}
    for event in sorted(events, key=lambda e: e.id):
        if (
            event.entity_type != "Claim"
            or event.action == "claim.bulk_import"
            or event.action in UNVERSIONED_CLAIM_ACTIONS
        ):
            continue
        state = states.setdefault(event.entity_id, {})
        state.update({k: v for k, v in (event.after or {}).items() if k in REPLAYED})
        if "version" in state:
            history[event.entity_id][state["version"]] = dict(state)
    for ack in ledger.acks:
        claim_id = decode_id(ack.claim_id)
        at = history.get(claim_id, {}).get(ack.version)
        if at is None:
            continue  # reported above, or the claim predates the prefix (then it has no create here)
        expected = {"statement": ack.statement, "status": ack.status, "direction": ack.direction,
                    "modality": ack.modality}  # fmt: skip
        differs = {k: (v, at.get(k)) for k, v in expected.items() if k in at and at[k] != v}
        if differs:
            problems.append(
                f"{ack.op} {ack.request_id}: acknowledged {differs} (answer, log) at v{ack.version}"
            )
    final_version: dict[int, int] = {}
    for claim_id, versions in history.items():
        final_version[claim_id] = max(versions)
    for refusal in ledger.refusals:
        if "VERSION_CONFLICT" in refusal.codes and refusal.claim_id and refusal.expected_version:
            claim_id = decode_id(refusal.claim_id)
            latest = final_version.get(claim_id)
            if latest is not None and latest <= refusal.expected_version:
                problems.append(
                    f"{refusal.op} {refusal.request_id} got VERSION_CONFLICT at version "
                    f"{refusal.expected_version}, but the claim never went past version {latest}"
                )
    return problems


# --- comparing two databases by content ------------------------------------------------------

# Columns whose values differ between two runs that wrote the same things: times, hashes over
# times, random tokens and request ids, and fingerprints (hashes over row ids).
_VOLATILE = {"created_at", "updated_at", "at", "revoked_at", "fingerprint", "hash", "previous_hash",
             "last_hash", "token_hash", "request_id"}  # fmt: skip
# Audit entity types and the tables their ids point into.
_ENTITY_TABLES = {
    "Claim": "claim", "Source": "source", "Cohort": "cohort", "User": "app_user", "Target": "target",
    "Intervention": "intervention", "Condition": "condition", "Organism": "organism", "Outcome": "outcome",
}  # fmt: skip
# Keys of audit before/after documents that hold row ids, and the tables they point into.
_AUDIT_ID_KEYS = {
    "subject_target_id": "target", "subject_intervention_id": "intervention", "outcome_id": "outcome",
    "organism_id": "organism", "condition_id": "condition", "cohort_id": "cohort", "comparator_id": "cohort",
    "source_id": "source", "derived_from_id": "source", "parent_id": "condition", "target_id": "target",
    "intervention_id": "intervention", "created_by_id": "app_user", "last_edited_by_id": "app_user",
    "reviewer_id": "app_user", "user_id": "app_user",
}  # fmt: skip
# Columns that name a row of a table given by another column of the row: (kind column, id
# column, kind → table). search_term names vocabulary entries and sources by kind.
_POLYMORPHIC = {
    "search_term": (
        "kind", "entity_id",
        {"TARGET": "target", "INTERVENTION": "intervention", "CONDITION": "condition",
         "ORGANISM": "organism", "OUTCOME": "outcome", "SOURCE": "source"},
    ),
}  # fmt: skip
# Keys of bulk-import audit documents that name row ids (or hash them): runs, not content.
_AUDIT_ID_LISTS = {"ids", "content_sha256"}


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _plain(v)) for k, v in value.items()))
    return value.value if hasattr(value, "value") and not isinstance(value, str) else value


async def canonical_dump(db: Database) -> dict[str, Any]:
    """The database's content with every surrogate id replaced by what it names (the row's own
    content, recursively), and times, hashes and random tokens left out: two databases that hold
    the same things dump equal even when their id sequences differ (PostgreSQL sequences do not
    roll back, so a killed transaction leaves a gap)."""
    from sqlmodel import SQLModel

    import schema.tables  # noqa: F401  (registers the tables)

    keys: dict[str, dict[Any, Any]] = {}
    dump: dict[str, Any] = {}
    async with db.read() as session:
        # Not api_token (random tokens), nor the maintained aggregates: they hold bare ids (no
        # foreign keys to name them by) and are derived from the claims, which are compared;
        # `claimsdb db check` (aggregate_differences) checks them against those.
        from api.store.aggregate_triggers import AGGREGATES

        derived = {"api_token", *(agg.table for agg in AGGREGATES)}
        tables = [t for t in SQLModel.metadata.sorted_tables if t.name not in derived]
        # The audit log names rows of every table by id: dump it once all of them are keyed.
        # So do the tables naming rows by kind and id (search_term).
        tables.sort(key=lambda t: (t.name == "audit_event", t.name in _POLYMORPHIC))
        for table in tables:
            rows = (await session.execute(sa.select(table))).mappings().all()
            own_id = "id" if "id" in table.c and table.c.id.primary_key else None
            self_refs = {
                c.name for c in table.c for fk in c.foreign_keys if fk.column.table.name == table.name
            }
            out = []
            for row in rows:
                item: list[tuple[str, Any]] = []
                for column in table.c:
                    name = column.name
                    if name in _VOLATILE or name == own_id or name in self_refs:
                        continue
                    value = row[name]
                    targets = [fk.column.table.name for fk in column.foreign_keys]
                    polymorphic = _POLYMORPHIC.get(table.name)
                    if polymorphic is not None and name == polymorphic[1]:
                        targets = [polymorphic[2][row[polymorphic[0]]]]
                    if targets and value is not None and targets[0] in keys:
                        value = keys[targets[0]].get(value, ("missing", targets[0], value))
                    item.append((name, _plain(value)))
                if own_id is not None:
                    keys.setdefault(table.name, {})[row[own_id]] = tuple(item)
                out.append((item, row))
            dumped = []
            for item, row in out:
                extra = [
                    (name, keys[table.name].get(row[name]) if row[name] is not None else None)
                    for name in sorted(self_refs)
                ]
                dumped.append(tuple(item + extra))
            if table.name == "audit_event":
                dump[table.name] = [
                    _audit_row(dict(item), keys) for item, _ in sorted(out, key=lambda x: x[1]["id"])
                ]
            else:
                dump[table.name] = sorted(dumped, key=repr)
    return dump


def _audit_row(item: dict[str, Any], keys: dict[str, dict[Any, Any]]) -> tuple[Any, ...]:
    table = _ENTITY_TABLES.get(item["entity_type"])
    entity = keys.get(table or "", {}).get(item["entity_id"], ("missing", table, item["entity_id"]))
    if item["action"].endswith("bulk_import"):
        entity = None  # names the first id of a batch; the batch's content is in `after`

    def translate(value: Any) -> Any:
        if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
            out = []
            for k, v in value:
                if k in _AUDIT_ID_LISTS:
                    continue
                if k in _AUDIT_ID_KEYS and isinstance(v, int):
                    v = keys.get(_AUDIT_ID_KEYS[k], {}).get(v, ("missing", _AUDIT_ID_KEYS[k], v))
                out.append((k, translate(v)))
            return tuple(out)
        if isinstance(value, tuple):
            return tuple(translate(v) for v in value)
        return value

    return (item["action"], item["entity_type"], entity, item.get("actor_id"), translate(item["before"]),
            translate(item["after"]), item["comment"])  # fmt: skip


def dump_differences(left: dict[str, Any], right: dict[str, Any], limit: int = 3) -> list[str]:
    """Where two canonical dumps differ, table by table (a few rows each)."""
    out = []
    for table in sorted(set(left) | set(right)):
        a, b = left.get(table, []), right.get(table, [])
        if a == b:
            continue
        if table == "audit_event":
            first = next(
                (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
            )
            x = a[first] if first < len(a) else None
            y = b[first] if first < len(b) else None
            out.append(
                f"audit_event: {len(a)} vs {len(b)} events; first difference at position {first}: "
                f"{x!r:.400} vs {y!r:.400}"
            )
            continue
        only_a = [r for r in a if r not in b][:limit]
        only_b = [r for r in b if r not in a][:limit]
        out.append(
            f"{table}: {len(a)} vs {len(b)} rows; only left {only_a!r:.600}; only right {only_b!r:.600}"
        )
    return out


# --- is a write transaction open? -------------------------------------------------------------


class WriteProbe:
    """Tells whether some other connection has a write transaction open on the database, so a
    test can kill a process while it is inside one rather than before or after.

    SQLite: the write lock is taken (BEGIN IMMEDIATE with no wait fails). PostgreSQL: another
    backend on this database has a transaction id, which PostgreSQL assigns at the first write
    (or row lock) of a transaction."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pg: Any = None

    async def __call__(self) -> bool:
        if self.settings.is_sqlite:
            return await asyncio.to_thread(self._sqlite_locked)
        if self._pg is None:
            import asyncpg

            dsn = self.settings.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._pg = await asyncpg.connect(dsn, timeout=30)
        count = await self._pg.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
        )
        return bool(count)

    def _sqlite_locked(self) -> bool:
        import sqlite3

        assert self.settings.url.database
        connection = sqlite3.connect(self.settings.url.database, timeout=0, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return True
            raise
        else:
            connection.execute("ROLLBACK")  # at once: the lock was free, and is again
            return False
        finally:
            connection.close()

    async def close(self) -> None:
        if self._pg is not None:
            await self._pg.close()


def spawn_logged(command: list[str], settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    """Start `command` on `settings`' database, its output to `log`; returns at once."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command, env=server_env(settings), stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT
        )


@dataclass
class KillResult:
    killed: bool  # False: the process ended by itself before it could be killed
    returncode: int
    seconds: float  # from start to kill (or end)
    output: str


async def kill_mid_write(
    command: list[str],
    settings: Settings,
    log: Path,
    *,
    ready: Any = None,
    delay: float = 0.0,
    limit_seconds: float = 600.0,
) -> KillResult:
    """Run `command` on `settings`' database and SIGKILL it `delay` seconds after a write
    transaction is seen open (and `ready()`, an async predicate, holds, when given)."""
    probe = WriteProbe(settings)
    began = time.monotonic()
    process = spawn_logged(command, settings, log)
    try:
        while time.monotonic() - began < limit_seconds:
            if process.poll() is not None:
                return KillResult(False, process.returncode, time.monotonic() - began, tail(log))
            if await probe() and (ready is None or await ready()):
                if delay:
                    await asyncio.sleep(delay)
                if process.poll() is not None:
                    return KillResult(False, process.returncode, time.monotonic() - began, tail(log))
                os.kill(process.pid, signal.SIGKILL)
                code = await asyncio.to_thread(process.wait, 60)
                return KillResult(True, code, time.monotonic() - began, tail(log))
            await asyncio.sleep(0.01)
        raise AssertionError(f"{command} wrote nothing in {limit_seconds:.0f} s: {tail(log)}")
    finally:
        await probe.close()
        if process.poll() is None:
            process.kill()
            await asyncio.to_thread(process.wait)
