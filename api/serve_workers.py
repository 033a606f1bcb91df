"""`claimsdb serve --workers N`: N uvicorn processes, each listening on its own socket bound to
the same port with SO_REUSEPORT, so the kernel spreads new connections across them.

uvicorn's own `--workers` hands every worker one shared listening socket, and asyncio accepts
every connection that is waiting whenever the socket is readable: connections that arrive
together (a client or a load balancer opening its keep-alive pool) all land on the worker that
woke first. Measured: 8 connections opened at once went 8 to 0 in three tries out of three, so a
second worker added nothing to a keep-alive client's throughput (bench/RESULTS.md). With a socket
per worker the kernel picks the worker per connection, by a hash of its addresses.

The supervisor restarts a worker that dies, stops all on SIGINT/SIGTERM (each finishes its
requests, as uvicorn does on SIGTERM), and gives up when a worker cannot start (exit status 3,
uvicorn's start-up failure: the app failed to load, the port cannot be bound). Linux and the
BSDs have SO_REUSEPORT; elsewhere uvicorn's own workers serve.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
from typing import Any

STARTUP_FAILURE = 3  # uvicorn.config.STARTUP_FAILURE
STOP_GRACE_SECONDS = 30.0

_log = logging.getLogger("uvicorn.error")


def available() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def _address(host: str, port: int) -> tuple[socket.AddressFamily, Any]:
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    return family, address


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A TCP socket bound to host:port with SO_REUSEPORT, listening."""
    family, address = _address(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _worker(app: str, options: dict[str, Any]) -> None:
    import uvicorn

    config = uvicorn.Config(app, **options)
    try:
        sock = listening_socket(config.host, config.port, config.backlog)
    except OSError as exc:
        _log.error("cannot listen on %s:%s: %s", config.host, config.port, exc)
        raise SystemExit(STARTUP_FAILURE) from None
    uvicorn.Server(config).run(sockets=[sock])


def run(app: str, options: dict[str, Any], workers: int) -> int:
    """Serve `app` with `workers` processes until SIGINT/SIGTERM; the exit status."""
    import uvicorn

    uvicorn.Config(app, **options)  # sets up logging in this process as in the workers
    # Fail before starting anything when the port is taken by a socket without SO_REUSEPORT (or by
    # another user): bound, never listening, so it receives no connection, then closed.
    family, address = _address(options["host"], options["port"])
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        probe.bind(address)
    except OSError as exc:
        _log.error("cannot listen on %s:%s: %s", options["host"], options["port"], exc)
        return STARTUP_FAILURE
    finally:
        probe.close()
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def start() -> Any:
        process = context.Process(target=_worker, args=(app, options), daemon=False)
        process.start()
        _log.info("started worker process [%s]", process.pid)
        return process

    def stop(_signum: int, _frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start() for _ in range(workers)]
    status = 0
    try:
        while not stopping.wait(0.5):
            for index, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    _log.error("worker [%s] could not start; stopping", process.pid)
                    status = STARTUP_FAILURE
                    stopping.set()
                    break
                _log.warning("worker [%s] exited with %s; starting another", process.pid, process.exitcode)
                processes[index] = start()
    finally:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        for process in processes:
            process.join(STOP_GRACE_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status
