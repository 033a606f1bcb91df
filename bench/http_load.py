"""Load over HTTP: the real ASGI app (api.app:create_app) under uvicorn in a subprocess on a free
local port, driven by httpx.AsyncClient at a fixed concurrency for a bounded number of requests
or seconds, whichever ends first."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from api.settings import PROJECT_ROOT, Settings

STARTUP_SECONDS = 60.0


class ServerError(RuntimeError):
    """The server did not start or answer; the message carries its last output."""


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    @property
    def url(self) -> str:
        return f"{self.base_url}/graphql"

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) the server process has used so far (Linux), or None."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # After the command name: field 14 (utime) and 15 (stime) are items 11 and 12 here.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_kib(self) -> int | None:
        """The server process's peak resident memory (Linux VmHWM), or None elsewhere."""
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(command: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start a server process, its output going to `log` (returns at once)."""
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)


@asynccontextmanager
async def serve(
    settings: Settings, log_dir: Path, extra_env: dict[str, str] | None = None, workers: int | None = None
) -> AsyncIterator[Server]:
    """uvicorn running create_app on `settings`' database (one worker), until the block ends; with
    `workers`, `claimsdb serve --workers N` instead, as a deployment runs it."""
    port = free_port()
    log = log_dir / f"uvicorn-{port}.log"
    env = {
        **os.environ,
        "CLAIMSDB_DATABASE_URL": settings.url.render_as_string(hide_password=False),
        "CLAIMSDB_POOL_SIZE": str(settings.pool_size),
        "PYTHONPATH": str(PROJECT_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        **(extra_env or {}),
    }
    command = [
        sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    if workers is not None:
        command = [
            sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers),
        ]  # fmt: skip
    process = spawn(command, env, log, PROJECT_ROOT)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        await _wait_healthy(server)
        yield server
    finally:
        await stop(process)


async def _wait_healthy(server: Server) -> None:
    problem = await wait_for_healthz(server.process, server.base_url, STARTUP_SECONDS)
    if problem is not None:
        raise ServerError(f"uvicorn {problem}: {tail(server.log)}")


async def wait_for_healthz(process: subprocess.Popen[bytes], base_url: str, seconds: float) -> str | None:
    """Poll `base_url`/healthz until it answers 200 (None), the process exits or `seconds` pass
    (what went wrong, worded to follow the server's name)."""
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return f"exited with {process.returncode} while starting"
            try:
                response = await client.get(f"{base_url}/healthz")
                if response.status_code == 200:
                    return None
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    return f"did not answer /healthz within {seconds:.0f} s"


async def stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """End the process this module started (by its pid): SIGTERM, then SIGKILL after `grace`."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.to_thread(process.wait, grace)
    except subprocess.TimeoutExpired:
        process.kill()
        await asyncio.to_thread(process.wait)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class LoadResult:
    concurrency: int
    requests: int = 0
    errors: int = 0  # failed requests: HTTP errors, GraphQL errors, timeouts, wrong answers
    wrong: int = 0  # answered, but not what the check expects
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    first_error: str | None = None
    server_cpu_seconds: float | None = None  # the server's CPU time over the run, when known

    def as_dict(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        cpu = self.server_cpu_seconds
        return {
            "concurrency": self.concurrency,
            "requests": self.requests,
            "errors": self.errors,
            "wrong_answers": self.wrong,
            "seconds": round(self.seconds, 3),
            "p50_ms": round(statistics.median(lat), 3) if lat else None,
            "p99_ms": round(percentile(lat, 99), 3) if lat else None,
            "requests_per_s": round(self.requests / self.seconds, 2) if self.seconds > 0 else None,
            "first_error": self.first_error,
            # What one request costs the server in CPU (all its threads), whatever the client did.
            "server_cpu_ms_per_request": (
                round(cpu * 1000 / self.requests, 3) if cpu is not None and self.requests else None
            ),
        }


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (with few samples, p99 is the maximum)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]


# A request: (JSON body, headers) for the n-th request of worker w.
RequestFactory = Callable[[int, int], tuple[dict[str, Any], dict[str, str]]]
# Checks a decoded response body; returns an error message or None.
ResponseCheck = Callable[[dict[str, Any]], str | None]


async def load(
    url: str,
    make_request: RequestFactory,
    *,
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    check: ResponseCheck | None = None,
    request_timeout: float = 120.0,
) -> LoadResult:
    """`concurrency` workers send requests until `max_requests` are sent or `max_seconds` pass."""
    result = LoadResult(concurrency)
    counter = itertools.count()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    began = time.perf_counter()
    deadline = began + max_seconds

    async def worker(client: httpx.AsyncClient, index: int) -> None:
        while True:
            n = next(counter)
            if n >= max_requests or time.perf_counter() >= deadline:
                return
            body, headers = make_request(index, n)
            start = time.perf_counter()
            try:
                response = await client.post(url, json=body, headers=headers)
                elapsed = (time.perf_counter() - start) * 1000
                problem = None
                if response.status_code != 200:
                    problem = f"HTTP {response.status_code}: {response.text[:300]}"
                else:
                    payload = response.json()
                    if payload.get("errors"):
                        problem = f"GraphQL errors: {payload['errors']}"[:500]
                    elif check is not None:
                        problem = check(payload["data"])
                        result.wrong += problem is not None
            except httpx.HTTPError as exc:
                elapsed = (time.perf_counter() - start) * 1000
                problem = f"{type(exc).__name__}: {exc}"
            result.requests += 1
            result.latencies_ms.append(elapsed)
            if problem is not None:
                result.errors += 1
                result.first_error = result.first_error or problem

    async with httpx.AsyncClient(timeout=request_timeout, limits=limits) as client:
        await asyncio.gather(*(worker(client, i) for i in range(concurrency)))
    result.seconds = time.perf_counter() - began
    return result
