"""A real PostgreSQL server for a test: Debian's `postgresql` binaries, a data directory in a
temporary folder, loopback only, a free port, password authentication. Stopped (and its data
removed) when the context exits. Tests skip when the binaries are absent (`.ci/run` installs
them)."""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from paisa_assets_tests.support.ports import free_port

SERVER_USER = "postgres"


def postgres_bin() -> Path | None:
    """The newest installed `/usr/lib/postgresql/<version>/bin` holding initdb and pg_ctl."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    for path in reversed(versions):
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    return None


@dataclass(frozen=True)
class PostgresServer:
    port: int
    user: str
    password: str
    database: str

    def dagster_env(self) -> dict[str, str]:
        """The variables deploy/dagster.postgres.yaml reads."""
        return {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": self.database,
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
        }


def _as_server_user(command: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server as `postgres` when we are root."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", SERVER_USER, "--", *command]


@contextmanager
def running_postgres(database: str = "dagster") -> Iterator[PostgresServer]:
    binaries = postgres_bin()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)")
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(SERVER_USER)
        except KeyError:
            pytest.skip(f"no {SERVER_USER!r} user to run PostgreSQL as")
        user = SERVER_USER
    else:
        owner, user = None, getpass.getuser()
    password = "paisa-test-" + os.urandom(6).hex()
    # Not under pytest's tmp_path: its parents are private to root, the server user must reach it.
    base = Path(tempfile.mkdtemp(prefix="paisa-pg-"))
    data, sockets, pwfile = base / "data", base / "sockets", base / "pwfile"
    sockets.mkdir()
    pwfile.write_text(password + "\n")
    if owner is not None:
        for path in (base, sockets, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = free_port()
    try:
        subprocess.run(
            _as_server_user(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    user,
                    "--pwfile",
                    str(pwfile),
                    "-A",
                    "scram-sha-256",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        subprocess.run(
            _as_server_user(
                [
                    str(binaries / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(base / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c max_connections=200",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        try:
            subprocess.run(
                [
                    str(binaries / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    user,
                    database,
                ],
                check=True,
                capture_output=True,
                env=os.environ | {"PGPASSWORD": password},
            )
            yield PostgresServer(port=port, user=user, password=password, database=database)
        finally:
            subprocess.run(
                _as_server_user(
                    [str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
                ),
                capture_output=True,
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)
