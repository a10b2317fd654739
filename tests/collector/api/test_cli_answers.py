"""The lineage CLI against a real server answering what it does not expect: one line on
stderr and exit 1, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlspan.collector.api import ApiServer, Response, Router
from mlspan.collector.cli.main import main

pytestmark = pytest.mark.slow


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[ApiServer]:
    body: bytes = request.param
    router = Router()
    router.add(
        "GET", "/api/v1/runs", lambda _r: Response(200, body, "application/json"), summary="runs"
    )
    running = ApiServer("127.0.0.1", 0, router)
    running.start()
    yield running
    running.shutdown()


@pytest.mark.parametrize(
    ("server", "says"),
    [
        (b'{"runs": [{"run_id": 5}], "next_cursor": null}', "unexpected answer"),
        (b'{"nothing": true}', "unexpected answer"),
        (b"[" * 50_000 + b"]" * 50_000, "did not answer with JSON"),
        (b"not json", "did not answer with JSON"),
    ],
    indirect=["server"],
)
def test_unexpected_answers_are_one_line_and_exit_1(
    server: ApiServer, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["recent", "--api", server.url])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.startswith("mlspan recent: ") and says in err
    assert err.count("\n") == 1
