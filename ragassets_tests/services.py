"""Real PostgreSQL and Redis servers for tests, started on 127.0.0.1 and a free port, stopped after.

Both come from Debian's packages (``postgresql``, ``redis-server``; ``.ci/install-services.sh``
installs them). PostgreSQL refuses to run as root, so when the tests run as root the server runs as
the ``postgres`` user the package creates (``runuser``), in a temporary folder that user owns.
A test that needs a server skips, with the reason, only when the binaries are absent or the server
cannot start.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

INSTALL_HINT = "install it with .ci/install-services.sh (apt-get install postgresql redis-server)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl (Debian's layout)."""
    found = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists() and (p / "pg_ctl").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def _server_user() -> str | None:
    """Who runs the server: None (ourselves) unless we are root, then `postgres` (or `nobody`)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    return None


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    db: str
    log: Path

    @property
    def env(self) -> dict[str, str]:
        """The variables deploy/postgres/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.db,
        }

    def connect(self, db: str | None = None):
        import psycopg2

        return psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                dbname=db or self.db)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        con = self.connect()
        try:
            with con.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            con.close()


def _as_user(user: str | None, argv: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *argv] if user else argv


@contextlib.contextmanager
def postgres_server(db: str = "dagster") -> Iterator[Postgres]:
    """initdb in a temporary folder, pg_ctl start on 127.0.0.1:<free port>, a database ``db``; stop after."""
    pytest.importorskip("psycopg2", reason="psycopg2 comes with the `scale` extra: pip install -e '.[scale]'")
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip(f"PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin): {INSTALL_HINT}")
    user = _server_user()
    if os.geteuid() == 0 and user is None:
        pytest.skip("running as root and no `postgres` or `nobody` user exists to run PostgreSQL as")
    folder = Path(tempfile.mkdtemp(prefix="ragassets-pg-"))
    data, log, pwfile = folder / "data", folder / "server.log", folder / "pw"
    password = os.urandom(12).hex()
    pwfile.write_text(password + "\n")
    if user:
        shutil.chown(folder, user)
        shutil.chown(pwfile, user)
    port = free_port()
    started = False
    try:
        init = subprocess.run(
            _as_user(user, [str(bindir / "initdb"), "-D", str(data), "-U", "ragassets", "--pwfile", str(pwfile),
                            "--auth", "scram-sha-256", "-E", "UTF8", "--no-sync", "--locale", "C"]),
            check=False, capture_output=True, text=True, timeout=120,
        )
        if init.returncode != 0:
            pytest.skip(f"initdb failed, PostgreSQL cannot start here: {init.stderr.strip()[-400:]}")
        # fsync off (-F): a throwaway test server; the unix socket goes in our own folder
        opts = f"-h 127.0.0.1 -p {port} -k {folder} -F"
        start = subprocess.run(
            _as_user(user, [str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(log), "-w", "-t", "60",
                            "start"]),
            check=False, capture_output=True, text=True, timeout=90,
        )
        if start.returncode != 0:
            tail = log.read_text()[-600:] if log.exists() else start.stderr
            pytest.skip(f"PostgreSQL did not start on 127.0.0.1:{port}: {tail.strip()}")
        started = True
        server = Postgres("127.0.0.1", port, "ragassets", password, db, log)
        con = server.connect("postgres")
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{db}"')
        con.close()
        yield server
    finally:
        if started:
            subprocess.run(_as_user(user, [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                           check=False, capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Redis:
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"


@contextlib.contextmanager
def redis_server() -> Iterator[Redis]:
    """redis-server on 127.0.0.1:<free port>, no persistence, in a temporary folder; stopped after."""
    binary = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists()
                                              else None)
    if binary is None:
        pytest.skip(f"redis-server is not installed: {INSTALL_HINT}")
    folder = Path(tempfile.mkdtemp(prefix="ragassets-redis-"))
    port = free_port()
    with open(folder / "redis.log", "wb") as log:
        proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
             "--dir", str(folder), "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"redis-server did not start: {(folder / 'redis.log').read_text()[-400:]}")
            time.sleep(0.1)
        yield Redis(port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)
