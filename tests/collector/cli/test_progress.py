"""Progress on stderr while a query waits: shown on a terminal, never when captured."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from mlspan.collector.api import ApiServer, Request, Response, Router
from mlspan.collector.cli.main import main

pytestmark = pytest.mark.slow

RUNS = b'{"runs": [], "next_cursor": null}'


@pytest.fixture
def slow_server() -> Iterator[ApiServer]:
    def slow(_request: Request) -> Response:
        time.sleep(2.5)
        return Response(200, RUNS)

    router = Router()
    router.add("GET", "/api/v1/runs", slow, summary="runs, slowly")
    server = ApiServer("127.0.0.1", 0, router)
    server.start()
    yield server
    server.shutdown()


def test_a_slow_answer_shows_progress_on_a_terminal(slow_server: ApiServer) -> None:
    primary, secondary = pty.openpty()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLSPAN_")}
        process = subprocess.run(
            [sys.executable, "-m", "mlspan.collector.cli.main", "recent", "--api", slow_server.url],
            stdout=subprocess.PIPE,
            stderr=secondary,
            env=env,
            timeout=60,
            check=False,
        )
        os.close(secondary)
        secondary = -1
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(primary)
        if secondary >= 0:
            os.close(secondary)
    assert process.returncode == 0
    assert b"mlspan recent: waiting for the collector... 1 s" in shown, shown
    assert shown.endswith(b"\r\x1b[K"), shown[-40:]  # erased once answered
    assert process.stdout == b"no runs\n"


def test_progress_is_silent_when_stderr_is_captured(
    slow_server: ApiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["recent", "--api", slow_server.url]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("no runs\n", "")
