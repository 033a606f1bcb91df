"""A load generator with little overhead of its own, for throughput on a small machine.

httpx (bench.http_load) builds, sends and parses every request through several layers of
Python; on a 2-core machine that client takes a good part of a core that the servers under test
then lack, which caps what a second worker can show. This one sends one pre-encoded HTTP/1.1
request over keep-alive connections (raw asyncio streams), reads the status line, the headers and
a Content-Length or chunked body, and checks every answer cheaply: the first one is decoded and
checked in full, every later one must be byte-for-byte equal to it (an answer that differs is
decoded and checked in full too). It reports the CPU time it used itself, so a report can say
how much of the machine the client took.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from bench.http_load import LoadResult

# Checks a decoded response body (the whole JSON document); an error message or None.
BodyCheck = Callable[[dict[str, Any]], str | None]


@dataclass
class LeanResult:
    load: LoadResult
    client_cpu_seconds: float  # CPU the load generator used (this process, all threads)

    def as_dict(self) -> dict[str, Any]:
        out = self.load.as_dict()
        seconds = self.load.seconds
        out["client_cpu_cores"] = round(self.client_cpu_seconds / seconds, 3) if seconds > 0 else None
        return out


def encode_post(url: str, body: dict[str, Any]) -> bytes:
    """The whole HTTP/1.1 request (keep-alive, no compression) for a JSON POST to `url`."""
    parts = urlsplit(url)
    payload = orjson.dumps(body)
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode("latin-1") + payload


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep the connection) of one response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(chunks)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, body, headers.get("connection", "").lower() != "close"


async def lean_load(
    url: str,
    body: dict[str, Any],
    *,
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    check: BodyCheck,
) -> LeanResult:
    """`concurrency` connections send the same POST until `max_requests` or `max_seconds`."""
    request = encode_post(url, body)
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    result = LoadResult(concurrency)
    counter = itertools.count()
    known_good: list[bytes] = []
    cpu_began = time.process_time()
    began = time.perf_counter()
    deadline = began + max_seconds

    def judge(status: int, answer: bytes) -> str | None:
        if status != 200:
            return f"HTTP {status}: {answer[:300]!r}"
        if known_good and answer == known_good[0]:
            return None
        try:
            payload = orjson.loads(answer)
        except orjson.JSONDecodeError:
            return f"not JSON: {answer[:300]!r}"
        if payload.get("errors"):
            return f"GraphQL errors: {payload['errors']}"[:500]
        problem = check(payload)
        if problem is None and not known_good:
            known_good.append(answer)
        elif problem is not None:
            result.wrong += 1
        return problem

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next(counter) < max_requests and time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    writer.write(request)
                    status, answer, keep = await _read_response(reader)
                    problem = judge(status, answer)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    status, keep, problem = 0, False, f"{type(exc).__name__}: {exc}"
                result.latencies_ms.append((time.perf_counter() - start) * 1000)
                result.requests += 1
                if problem is not None:
                    result.errors += 1
                    result.first_error = result.first_error or problem
                if not keep:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - began
    return LeanResult(result, time.process_time() - cpu_began)
