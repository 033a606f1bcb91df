"""The low-overhead load client (bench/lean_load.py) and the workers comparison's bound
(bench/workers.py): the client counts, checks every answer (a changed answer is caught, an HTTP
error is an error), and reads both Content-Length and chunked bodies over keep-alive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson

from bench.lean_load import lean_load
from bench.workers import bound

GOOD = orjson.dumps({"data": {"answer": 42}})


@asynccontextmanager
async def server(answers: list[tuple[int, bytes, bool]]) -> AsyncIterator[str]:
    """A keep-alive HTTP/1.1 server answering requests in turn with (status, body, chunked)."""
    turn = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal turn
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                status, body, chunked = answers[min(turn, len(answers) - 1)]
                turn += 1
                if chunked:
                    half = len(body) // 2
                    framed = b"".join(
                        f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in (body[:half], body[half:])
                    )
                    out = (
                        f"HTTP/1.1 {status} X\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
                        + framed
                        + b"0\r\n\r\n"
                    )
                else:
                    out = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
                writer.write(out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        listening.close()
        await listening.wait_closed()


def answer_is_42(document: dict[str, Any]) -> str | None:
    return None if document["data"]["answer"] == 42 else f"answer {document['data']['answer']}"


async def test_every_answer_is_counted_and_checked() -> None:
    for chunked in (False, True):
        async with server([(200, GOOD, chunked)]) as url:
            result = await lean_load(
                url,
                {"query": "{ answer }"},
                concurrency=3,
                max_requests=30,
                max_seconds=10,
                check=answer_is_42,
            )
        assert result.load.requests == 30 and result.load.errors == 0, result.load.first_error
        assert result.as_dict()["client_cpu_cores"] is not None


async def test_a_changed_answer_and_an_http_error_are_caught() -> None:
    wrong = orjson.dumps({"data": {"answer": 41}})
    async with server(
        [(200, GOOD, False), (200, GOOD, False), (200, wrong, False), (503, GOOD, False)]
    ) as url:
        result = await lean_load(
            url, {"query": "{ answer }"}, concurrency=1, max_requests=6, max_seconds=10, check=answer_is_42
        )
    assert result.load.requests == 6
    assert result.load.wrong == 1 and result.load.errors == 4  # the wrong answer, then three 503s
    assert result.load.first_error == "answer 41"


def test_the_bound_on_what_more_workers_can_give() -> None:
    # PostgreSQL's share is small: one worker is held to its core, two get the machine.
    assert bound(6.0, 1.0, 2) == round((2000 / 7) / (1000 / 6), 2)
    # PostgreSQL as costly as the server: two workers add nothing on two cores.
    assert bound(5.0, 5.0, 2) == 1.0
    assert bound(None, 1.0, 2) is None
