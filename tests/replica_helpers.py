"""A real PostgreSQL streaming replica for the read-replica tests.

`start_cluster` makes a standby with pg_basebackup -R into a temporary directory and runs it as a
second postmaster on a free port. Its primary is the test server (CLAIMSDB_TEST_POSTGRES_URL)
when that server allows replication connections; when it does not (the test server here has no
pg_hba `replication` entry, and the tests must not change a shared server's configuration), the
cluster starts its own primary in the temporary directory too (initdb), from the same binaries.
Everything it starts it stops by its process, and the directory is removed.

PostgreSQL refuses to run as root: when the tests run as root, the server programs run as the
`postgres` user (runuser), owning the temporary directory.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL

# What a hot standby must have at least as much of as its primary (it refuses to start otherwise).
_AT_LEAST_PRIMARY = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)


class ClusterError(RuntimeError):
    """The replica (or its primary) could not be started; the message says what failed."""


def bindir() -> Path:
    """Where the PostgreSQL server programs are: `pg_config --bindir`, else the newest
    /usr/lib/postgresql/<version>/bin."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(found.stdout.strip())
        if found.returncode == 0 and (candidate / "pg_basebackup").exists():
            return candidate
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    for candidate in map(Path, reversed(versions)):
        if (candidate / "pg_basebackup").exists():
            return candidate
    raise ClusterError("no PostgreSQL server programs (pg_basebackup, postgres) found")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """A primary and its streaming replica; `own_primary` when the primary was started here."""

    root: Path
    bin: Path
    primary: URL  # the server (no database)
    replica_port: int
    own_primary: bool
    run_as: str | None
    started: list[Path] = field(default_factory=list)  # data directories of running postmasters

    @property
    def replica_dir(self) -> Path:
        return self.root / "replica"

    def replica(self) -> URL:
        return self.primary.set(host="127.0.0.1", port=self.replica_port)

    def run(self, program: str, *args: str, timeout: float = 120) -> str:
        command = [str(self.bin / program), *args]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip()
            raise ClusterError(f"{program} failed ({done.returncode}): {said}")
        return done.stdout

    def start(self, data: Path, port: int) -> None:
        log = self.root / f"{data.name}.log"
        self.run("pg_ctl", "-D", str(data), "-l", str(log), "-o", f"-p {port}", "-w", "-t", "60", "start")
        if data not in self.started:
            self.started.append(data)

    def stop(self, data: Path) -> None:
        if data in self.started:
            self.run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
            self.started.remove(data)

    def stop_replica(self) -> None:
        self.stop(self.replica_dir)

    def start_replica(self) -> None:
        self.start(self.replica_dir, self.replica_port)

    def close(self) -> None:
        for data in reversed(list(self.started)):
            try:
                self.stop(data)
            except (ClusterError, subprocess.TimeoutExpired):
                self.run("pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _dsn(url: URL, database: str | None = None) -> str:
    url = url.set(drivername="postgresql", database=database or url.database)
    return url.render_as_string(hide_password=False)


async def sql(url: URL, database: str, query: str, *args: object) -> object:
    connection = await asyncpg.connect(_dsn(url, database), timeout=10)
    try:
        return await connection.fetchval(query, *args)
    finally:
        await connection.close()


def _write_conf(data: Path, port: int, socket_dir: Path, extra: dict[str, str]) -> None:
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{socket_dir}'",
        "fsync": "off",  # a throw-away cluster: speed over crash safety
        "shared_buffers": "'32MB'",
        "wal_level": "replica",
        "hot_standby": "on",
        **extra,
    }
    (data / "postgresql.conf").write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
    (data / "pg_hba.conf").write_text(
        "local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n"
    )


def _own(path: Path, user: str | None) -> None:
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


async def _standby_limits(primary: URL, database: str) -> dict[str, str]:
    connection = await asyncpg.connect(_dsn(primary, database), timeout=10)
    try:
        return {name: str(await connection.fetchval(f"SHOW {name}")) for name in _AT_LEAST_PRIMARY}
    finally:
        await connection.close()


async def start_cluster(test_server: URL) -> Cluster:
    """A replica of `test_server` when it allows replication, else of a primary started here."""
    run_as = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="claimsdb-replica-"))
    _own(root, run_as)
    cluster = Cluster(root, bindir(), test_server, free_port(), False, run_as)
    try:
        try:
            _base_backup(cluster, cluster.primary)
        except ClusterError as refused:
            if "replication" not in str(refused):
                raise
            shutil.rmtree(cluster.replica_dir, ignore_errors=True)
            _start_own_primary(cluster)
            _base_backup(cluster, cluster.primary)
        limits = await _standby_limits(cluster.primary, "postgres")
        _write_conf(cluster.replica_dir, cluster.replica_port, root, limits)
        cluster.start_replica()
    except BaseException:
        cluster.close()
        raise
    return cluster


def _start_own_primary(cluster: Cluster) -> None:
    data = cluster.root / "primary"
    port = free_port()
    user = cluster.primary.username or "postgres"
    cluster.run(
        "initdb", "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"
    )  # fmt: skip
    _write_conf(data, port, cluster.root, {"max_wal_senders": "4", "max_connections": "60"})
    cluster.start(data, port)
    cluster.primary = cluster.primary.set(host="127.0.0.1", port=port)
    cluster.own_primary = True


def _base_backup(cluster: Cluster, primary: URL) -> None:
    cluster.run(
        "pg_basebackup", "-h", primary.host or "127.0.0.1", "-p", str(primary.port or 5432),
        "-U", primary.username or "postgres", "-D", str(cluster.replica_dir),
        "-R", "-X", "stream", "-c", "fast", "--no-sync",
    )  # fmt: skip


async def wait_replayed(cluster: Cluster, database: str, seconds: float = 30.0) -> None:
    """Until the replica has replayed everything the primary has written so far."""
    target = await sql(cluster.primary, database, "SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        replayed = await sql(
            cluster.replica(), database, "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", target
        )
        if replayed:
            return
        await asyncio.sleep(0.05)
    raise ClusterError(f"the replica did not replay up to {target} within {seconds:.0f} s")
