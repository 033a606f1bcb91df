"""`claimsdb serve --workers N` gives each worker its own listening socket (api/serve_workers.py).

With uvicorn's shared socket, connections opened together all went to one worker (8 of 8, three
times out of three), so a keep-alive client or a load balancer's connection pool used one worker
of two. Here 16 connections are opened at once: with a socket per worker the kernel spreads
them, and both workers answer (all 16 on one worker would be a 2-in-65,536 chance). A worker that
dies is replaced.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson
from reliability_helpers import ServerProcess, cli_command

from api.settings import Settings

CONNECTIONS = 16


@dataclass
class Serve(ServerProcess):
    workers: int = 2

    def _command(self) -> list[str]:
        address = ("--host", "127.0.0.1", "--port", str(self.port))
        return cli_command("serve", *address, "--workers", str(self.workers))


def log_of(server: Serve) -> bytes:
    assert server.log is not None
    return Path(server.log).read_bytes()


async def _answered_by(server: Serve, tag: str) -> Counter[int]:
    """Open CONNECTIONS connections at once, one request on each; which worker (pid) answered."""
    body = orjson.dumps({"query": "{ __typename }"})

    async def one(n: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(
                b"POST /graphql HTTP/1.1\r\nHost: claimsdb.test\r\nContent-Type: application/json\r\n"
                + f"X-Request-Id: {tag}-{n}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
        finally:
            writer.close()

    await asyncio.gather(*(one(n) for n in range(CONNECTIONS)))
    await asyncio.sleep(0.5)  # the request log line is written after the answer
    pids: Counter[int] = Counter()
    for raw in log_of(server).splitlines():
        if raw.startswith(b"{") and f'"{tag}-'.encode() in raw:
            pids[orjson.loads(raw)["pid"]] += 1
    assert sum(pids.values()) == CONNECTIONS, pids
    return pids


async def test_connections_opened_together_reach_every_worker(settings: Settings, tmp_path: Path) -> None:
    server = Serve(settings, tmp_path, mode="serve", extra_env={"CLAIMSDB_LOG_FORMAT": "json"})
    try:
        await server.start()
        first = await _answered_by(server, "first")
        assert len(first) == 2, f"every connection went to one worker: {first}"

        # A worker that dies (killed, as the OOM killer would) is replaced, and both serve again.
        os.kill(next(iter(first)), signal.SIGKILL)
        for _ in range(60):
            await asyncio.sleep(0.5)
            if b"starting another" in log_of(server):
                break
        else:
            raise AssertionError(f"no worker was started after the kill: {server.log_tail()}")
        for attempt in range(30):  # until the new worker listens
            again = await _answered_by(server, f"again{attempt}")
            if len(again) == 2:
                break
            await asyncio.sleep(1)
        assert len(again) == 2 and set(again) != set(first), f"after the kill: {again} (before: {first})"
    finally:
        await server.stop()
