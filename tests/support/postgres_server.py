"""A private PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` in a temporary folder.

No system service: Debian's ``postgresql`` package provides the binaries, the server
listens on 127.0.0.1 at a free port (and a Unix socket inside its folder), runs without
fsync (test data need not survive a power cut) and is stopped and removed at the end.
``initdb`` refuses to run as root, so under root the server runs as the ``postgres``
user the package creates. Without the binaries the tests that need them are skipped,
except under CI (``CI`` set), where ``.ci/run`` installs the package and a missing
server is a failure.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SERVER_OPTIONS = "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
PASSWORD = "mlspan-test"
"""The ``postgres`` role's password: TCP connections authenticate with SCRAM, as a
deployed server's do, so tests can check that a wrong password is refused."""
INITDB_OPTIONS = ["-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256"]
INITDB_OPTIONS += ["-E", "UTF8", "--locale=C.UTF-8"]


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` folder, or None."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(args: list[str]) -> list[str]:
    """``args`` run as ``postgres`` when this process is root (initdb refuses root)."""
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


@contextmanager
def private_postgres() -> Iterator[str]:
    """Start a server; yields the libpq URL (password included) of its ``postgres``
    database."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        message = "PostgreSQL is not installed (Debian package postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    folder = Path(tempfile.mkdtemp(prefix="mlspan-pg-"))
    try:
        data = folder / "data"
        password_file = folder / "password"
        password_file.write_text(PASSWORD)
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            folder.chmod(0o700)
            for path in (folder, password_file):
                os.chown(path, user.pw_uid, user.pw_gid)
        initdb = [str(bin_dir / "initdb"), "-D", str(data), f"--pwfile={password_file}"]
        subprocess.run(
            _as_server_user([*initdb, *INITDB_OPTIONS]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        port = _free_port()
        options = f"-k {folder} -h 127.0.0.1 -p {port} {SERVER_OPTIONS}"
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log")]
        subprocess.run(
            _as_server_user([*pg_ctl, "-o", options, "-w", "-t", "60", "start"]),
            check=True,
            capture_output=True,
            timeout=90,
        )
        try:
            yield f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                _as_server_user([*pg_ctl, "-m", "fast", "-w", "stop"]),
                check=False,
                capture_output=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def fresh_schema_url(server_url: str) -> str:
    """A URL whose connections work in a new, empty schema of the server's database, so
    each test starts from an empty store without creating a database."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    return f"{server_url}?options=-csearch_path%3D{schema}"
