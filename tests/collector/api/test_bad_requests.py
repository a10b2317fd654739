"""No request makes the query API answer 5xx: bad input is 400 (or 404/405/411/413/414/
431) with a JSON message, against a real collector process.

Cases are generated from the collector's own ``/openapi.json``, so every route and every
declared parameter is covered, including routes added later: wrong types, values out
of range, non-finite numbers, integers past 64 bits; every write route gets bodies of
the wrong JSON type, nested 50,000 levels, invalid UTF-8 or lone surrogates; every path
gets methods it does not serve. Hand-written cases add what the schema cannot say
(cursors, raw protocol errors).
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from tests.collector.api.collector_process import (
    RunningCollector,
    fit_span,
    run_id,
    running_collector,
)

pytestmark = pytest.mark.slow

ARTIFACT = "model:test:1"
PATH_VALUES = {
    "ref": ARTIFACT,
    "run_id": run_id(1),
    "component": "train",
    "format": "dot",
    "name": "x.css",
}
BAD_INTEGERS = ("x", "1.5", "1e3", "", "nan", "99999999999999999999", "-99999999999999999999")
BAD_NUMBERS = ("x", "", "nan", "NaN", "inf", "-Infinity", "1e999", "1e308", "-1e308")
DEEP_ARRAY = b"[" * 50_000 + b"]" * 50_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
NESTED_65 = b'{"text":' + b"[" * 65 + b"]" * 65 + b"}"
SURROGATES = b'{"reason": "\\ud800", "text": "\\udfff", "add": ["\\ud800"], "remove": []}'
BAD_BODIES = {
    "array": b"[1]",
    "string": b'"x"',
    "number": b"5",
    "boolean": b"true",
    "deep_array": DEEP_ARRAY,
    "deep_object": DEEP_OBJECT,
    "nested_65": NESTED_65,
    "invalid_utf8": b'{"text": "\xff\xfe"}',
    "truncated": b'{"text": "a',
    "surrogate_values": SURROGATES,
    "surrogate_key": b'{"\\ud800": 1}',
}
ROUTE_BODIES = {
    "/tags": (b'{"add": "x"}', b'{"add": [1]}', b'{"remove": [""]}', b'{"add": [null]}'),
    "/notes": (b'{"text": ""}', b'{"text": 5}', b"{}", b'{"text": ["a"]}'),
    "/flag": (b'{"reason": 5}', b'{"reason": ["a"]}'),
}
OTHER_METHODS = ("HEAD", "OPTIONS", "TRACE", "PROPFIND", "GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Case:
    """One request and the status it must get."""

    method: str
    target: str
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.target} {self.body[:40]!r}"


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCollector]:
    folder = tmp_path_factory.mktemp("bad-requests")
    with running_collector(folder) as running:
        running.send([fit_span(1, '{"C": 1.0}', outputs=(ARTIFACT,))])
        running.wait_for_runs(1)
        yield running
        log = (folder / "collector.log").read_text()
        assert "API handler failed" not in log, log[-3000:]
        assert "Traceback" not in log, log[-3000:]


@pytest.fixture(scope="module")
def openapi(collector: RunningCollector) -> dict[str, Any]:
    document: dict[str, Any] = collector.get_json("/openapi.json")
    return document


def concrete(path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace(f"{{{name}}}", value)
    assert "{" not in path, f"no test value for a parameter of {path}"
    return path


def send(collector: RunningCollector, case: Case) -> tuple[int, Message, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", collector.api_port, timeout=30)
    try:
        says_json = case.body or case.method not in ("GET", "HEAD", "OPTIONS")
        headers = {"Content-Type": "application/json"} if says_json else {}
        headers.update(case.headers)
        connection.request(case.method, case.target, case.body or None, headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def check(collector: RunningCollector, case: Case) -> None:
    status, headers, body = send(collector, case)
    assert status == case.status, f"{case}: {status} {body[:300]!r}"
    if case.method == "HEAD":
        assert body == b""
        return
    if headers["Content-Type"] == "text/html; charset=utf-8":  # the web UI's error pages
        assert case.target.startswith(("/ui", "/?")) or case.target == "/", case
        assert f"Error {status}" in body.decode(), case
        return
    assert headers["Content-Type"] == "application/json", case
    error = json.loads(body)["error"]
    assert error["status"] == status and error["message"], case


def parameter_cases(openapi: dict[str, Any]) -> list[Case]:
    cases = []
    for path, operations in openapi["paths"].items():
        target = concrete(path)
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                schema = parameter["schema"]
                bad: list[str] = []
                if schema["type"] == "integer":
                    bad += BAD_INTEGERS
                elif schema["type"] == "number":
                    bad += BAD_NUMBERS if "maximum" in schema else BAD_NUMBERS[:-2]
                elif schema["type"] == "boolean":
                    bad += ("maybe", "2", "")
                if "minimum" in schema:
                    bad.append(str(schema["minimum"] - 1))
                if "maximum" in schema:
                    bad.append(f"{schema['maximum'] * 10 + 1:.0f}")
                if "enum" in schema:
                    bad.append("no-such-value")
                for value in bad:
                    query = f"{parameter['name']}={value}"
                    cases.append(Case(method.upper(), f"{target}?{query}", 400))
    return cases


def test_every_bad_query_parameter_is_400(
    collector: RunningCollector, openapi: dict[str, Any]
) -> None:
    cases = parameter_cases(openapi)
    assert len(cases) > 100
    for case in cases:
        check(collector, case)


def test_extreme_valid_parameters_are_answered(
    collector: RunningCollector, openapi: dict[str, Any]
) -> None:
    for path, operations in openapi["paths"].items():
        if "get" not in operations:
            continue
        for parameter in operations["get"].get("parameters", []):
            schema = parameter["schema"]
            for bound in ("minimum", "maximum"):
                if bound in schema:
                    target = f"{concrete(path)}?{parameter['name']}={schema[bound]}"
                    status, _, body = send(collector, Case("GET", target, 200))
                    assert status in (200, 404), f"{target}: {status} {body[:200]!r}"


def test_every_bad_body_is_400(collector: RunningCollector, openapi: dict[str, Any]) -> None:
    writes = [
        (method.upper(), path)
        for path, operations in openapi["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert len(writes) >= 5
    for method, path in writes:
        bodies = list(BAD_BODIES.values())
        bodies += next(v for k, v in ROUTE_BODIES.items() if path.endswith(k))
        for body in bodies:
            check(collector, Case(method, concrete(path), 400, body))
    # The same routes still work.
    check_ok = send(
        collector, Case("POST", f"/api/v1/runs/{run_id(1)}/notes", 200, b'{"text": "ok"}')
    )
    assert check_ok[0] == 200


@pytest.mark.parametrize(
    "target",
    [
        "/api/v1/runs?cursor=99999999999999999999.x",
        "/api/v1/runs?cursor=-1.x",
        "/api/v1/runs?cursor=abc",
        "/api/v1/runs?cursor=1.",
        "/api/v1/runs?cursor=.x",
        "/api/v1/runs?cursor=1e3.x",
        "/api/v1/components/train/runs?since=1e18",
        "/api/v1/components/train/runs?until=1e308",
        "/api/v1/runs/" + run_id(1) + "?stale_after_days=1e308",
        "/api/v1/trace/" + run_id(1) + "?stale_after_days=1e308&max_depth=3",
        "/api/v1/runs?" + "&".join(f"p{i}=1" for i in range(300)),
    ],
)
def test_reported_and_similar_parameters_are_400(collector: RunningCollector, target: str) -> None:
    check(collector, Case("GET", target, 400))


def test_flag_bodies_reported_are_400_and_a_plain_flag_works(collector: RunningCollector) -> None:
    target = f"/api/v1/artifacts/{ARTIFACT}/flag"
    for body in (b"[1]", b'"x"', b"5"):
        check(collector, Case("POST", target, 400, body))
    assert send(collector, Case("POST", target, 200, b'{"reason": "wrong"}'))[0] == 200
    assert send(collector, Case("POST", target, 200))[0] == 200
    assert send(collector, Case("DELETE", target, 200))[0] == 200


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"reason=csrf"),
        ("multipart/form-data; boundary=b", b'--b\r\nContent-Disposition: form-data; name="r"'),
        ("text/plain", b'{"reason": "csrf"}'),
        ("", b""),
        ("", b'{"reason": "csrf"}'),
        ("application/jsonx", b"{}"),
    ],
)
def test_writes_that_do_not_say_json_are_415_and_change_nothing(
    collector: RunningCollector, content_type: str, body: bytes
) -> None:
    """What a plain HTML form on another site can send (form, multipart, text bodies, or
    none) is refused before the handler runs: no flag is set."""
    target = f"/api/v1/artifacts/{ARTIFACT}/flag"
    connection = http.client.HTTPConnection("127.0.0.1", collector.api_port, timeout=30)
    try:
        headers = {"Content-Type": content_type} if content_type else {}
        for method in ("POST", "DELETE"):
            connection.request(method, target, body or None, headers)
            response = connection.getresponse()
            answer = response.read()
            assert response.status == 415, (method, answer)
            assert response.headers["Content-Type"] == "application/json"
            error = json.loads(answer)["error"]
            assert error["status"] == 415 and "Content-Type: application/json" in error["message"]
        connection.request("GET", "/api/v1/flags")
        flags = json.loads(connection.getresponse().read())["flags"]
        assert not [f for f in flags if f.get("reason") == "csrf"]
    finally:
        connection.close()


def test_methods_a_path_does_not_serve_are_405_with_allow(
    collector: RunningCollector, openapi: dict[str, Any]
) -> None:
    for path, operations in openapi["paths"].items():
        served = {method.upper() for method in operations}
        allow = ", ".join(sorted(served))
        for method in OTHER_METHODS:
            if method in served:
                continue
            status, headers, body = send(collector, Case(method, concrete(path), 405))
            assert status == 405, (method, path, status)
            assert headers["Allow"] == allow, (method, path)
            if method == "HEAD":
                assert body == b""
            else:
                assert json.loads(body)["error"]["status"] == 405
    check(collector, Case("HEAD", "/no/such/path", 404))
    check(collector, Case("OPTIONS", "/no/such/path", 404))


def raw(collector: RunningCollector, data: bytes) -> tuple[int, bytes]:
    """Send raw bytes; the status and body of the answer (the server closes after it)."""
    with socket.create_connection(("127.0.0.1", collector.api_port), timeout=30) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET http://[::1/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /openapi.json\r\n\r\n", 400),
        (b"GET /openapi.json HTTP/2.0\r\n\r\n", 505),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\n" + b"X-A: 1\r\n" * 150 + b"\r\n", 431),
        (b"POST /api/v1/flags HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
        (b"POST /api/v1/flags HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
        (b"POST /api/v1/flags HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST /api/v1/flags HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", 400),
        (b"POST /api/v1/flags HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        (b"POST /api/v1/flags HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 400),
        (b"GET /api/v1/runs/%ud800%ff HTTP/1.1\r\nConnection: close\r\n\r\n", 404),
    ],
    ids=lambda value: value[:40].decode("latin-1") if isinstance(value, bytes) else str(value),
)
def test_protocol_errors_get_json_answers(
    collector: RunningCollector, data: bytes, status: int
) -> None:
    if data.endswith(b"abc"):
        # A body shorter than Content-Length: the client half-closes after sending it.
        with socket.create_connection(("127.0.0.1", collector.api_port), timeout=30) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        answered, body = int(received.split(b" ", 2)[1]), received.partition(b"\r\n\r\n")[2]
    else:
        answered, body = raw(collector, data)
    assert answered == status, body[:300]
    assert json.loads(body)["error"]["status"] == status


def test_the_api_still_answers_afterwards(collector: RunningCollector, tmp_path: Path) -> None:
    assert collector.get_json("/api/v1/runs")["runs"][0]["run_id"] == run_id(1)
