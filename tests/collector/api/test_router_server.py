"""The generic HTTP layer over a real socket: routing, parameters, errors, OpenAPI."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message

import pytest
from openapi_spec_validator import validate

from mlspan.collector.api import (
    ApiServer,
    NotFoundError,
    Parameter,
    Request,
    Response,
    Router,
)

pytestmark = pytest.mark.slow


def _fetch(
    url: str, method: str = "GET", body: bytes | None = None, ctype: str = ""
) -> tuple[int, str, bytes, Message]:
    request = urllib.request.Request(url, data=body, method=method)
    if ctype:
        request.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return (
                response.status,
                response.headers["Content-Type"],
                response.read(),
                response.headers,
            )
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers["Content-Type"], exc.read(), exc.headers


def _router() -> Router:
    router = Router()
    items = {"a1": {"id": "a1", "n": 1}}

    def get_item(request: Request) -> Response:
        item = items.get(request.path_params["item_id"])
        if item is None:
            raise NotFoundError(f"no item with id '{request.path_params['item_id']}'")
        return Response.json({**item, "limit": request.params["limit"]})

    def post_item(request: Request) -> Response:
        body = request.json_object()
        items[str(body["id"])] = dict(body)
        return Response.json(body, status=201)

    def boom(_request: Request) -> Response:
        raise RuntimeError("handler bug")

    router.add(
        "GET",
        "/api/v1/items/{item_id}",
        get_item,
        summary="One item",
        parameters=[Parameter("limit", "integer", "max rows", default=10, minimum=1, maximum=50)],
        response_schema={"type": "object"},
        errors=[404],
    )
    router.add(
        "POST", "/api/v1/items", post_item, summary="Create", request_schema={"type": "object"}
    )
    router.add(
        "GET",
        "/metrics",
        lambda _r: Response.text("up 1\n", content_type="text/plain; version=0.0.4"),
        summary="Prometheus metrics",
        response_content_type="text/plain; version=0.0.4",
    )
    router.add("GET", "/boom", boom, summary="Always fails")
    return router


@pytest.fixture
def server() -> Iterator[ApiServer]:
    api = ApiServer("127.0.0.1", 0, _router())
    api.start()
    try:
        yield api
    finally:
        api.shutdown()


def test_path_and_query_parameters(server: ApiServer) -> None:
    status, ctype, body, _ = _fetch(f"{server.url}/api/v1/items/a1?limit=5")
    assert (status, ctype) == (200, "application/json")
    assert json.loads(body) == {"id": "a1", "n": 1, "limit": 5}
    status, _, body, _ = _fetch(f"{server.url}/api/v1/items/a1")
    assert json.loads(body)["limit"] == 10


def test_percent_encoded_path_parameter_may_hold_slashes(server: ApiServer) -> None:
    status, _, _, _ = _fetch(
        f"{server.url}/api/v1/items", "POST", b'{"id": "file:data/x.csv"}', "application/json"
    )
    assert status == 201
    status, _, body, _ = _fetch(f"{server.url}/api/v1/items/file:data%2Fx.csv")
    assert status == 200 and json.loads(body)["id"] == "file:data/x.csv"


def test_unknown_id_and_path_are_404_with_message(server: ApiServer) -> None:
    status, ctype, body, _ = _fetch(f"{server.url}/api/v1/items/zzz")
    assert (status, ctype) == (404, "application/json")
    assert json.loads(body) == {"error": {"status": 404, "message": "no item with id 'zzz'"}}
    status, _, body, _ = _fetch(f"{server.url}/nowhere")
    assert status == 404 and "no such endpoint: /nowhere" in json.loads(body)["error"]["message"]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [("limit=x", "must be an integer"), ("limit=0", "must be >= 1"), ("limit=99", "<= 50")],
)
def test_bad_query_parameter_is_400(server: ApiServer, query: str, fragment: str) -> None:
    status, _, body, _ = _fetch(f"{server.url}/api/v1/items/a1?{query}")
    assert status == 400 and fragment in json.loads(body)["error"]["message"]


def test_bad_json_body_is_400(server: ApiServer) -> None:
    status, _, body, _ = _fetch(f"{server.url}/api/v1/items", "POST", b"{nope", "application/json")
    assert status == 400 and "not valid JSON" in json.loads(body)["error"]["message"]
    status, _, body, _ = _fetch(f"{server.url}/api/v1/items", "POST", b"[1]", "application/json")
    assert status == 400 and "JSON object" in json.loads(body)["error"]["message"]


def test_wrong_method_is_405_with_allow(server: ApiServer) -> None:
    status, _, body, headers = _fetch(f"{server.url}/api/v1/items", "GET")
    assert status == 405 and headers["Allow"] == "POST"
    assert "not allowed" in json.loads(body)["error"]["message"]


def test_text_response_keeps_its_content_type(server: ApiServer) -> None:
    status, ctype, body, _ = _fetch(f"{server.url}/metrics")
    assert (status, ctype, body) == (200, "text/plain; version=0.0.4", b"up 1\n")


def test_handler_failure_is_500_and_server_keeps_serving(server: ApiServer) -> None:
    status, _, body, _ = _fetch(f"{server.url}/boom")
    assert status == 500 and "internal error" in json.loads(body)["error"]["message"]
    assert _fetch(f"{server.url}/metrics")[0] == 200


def test_oversized_body_is_413(server: ApiServer) -> None:
    status, _, _, _ = _fetch(
        f"{server.url}/api/v1/items", "POST", b"x" * (2 << 20), "application/json"
    )
    assert status == 413


def test_openapi_document_is_valid_and_lists_routes(server: ApiServer) -> None:
    status, _, body, _ = _fetch(f"{server.url}/openapi.json")
    document = json.loads(body)
    validate(document)
    assert status == 200
    assert set(document["paths"]) >= {"/api/v1/items/{item_id}", "/api/v1/items", "/metrics"}
    get_item = document["paths"]["/api/v1/items/{item_id}"]["get"]
    names = {(p["name"], p["in"]) for p in get_item["parameters"]}
    assert names == {("item_id", "path"), ("limit", "query")}
    assert "404" in get_item["responses"]
    assert "text/plain" in document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


def test_duplicate_route_is_rejected() -> None:
    router = _router()
    with pytest.raises(ValueError, match="already registered"):
        router.add("GET", "/api/v1/items/{other}", lambda r: Response.json({}), summary="dup")


def test_shutdown_is_idempotent_and_port_zero_binds_a_free_port() -> None:
    api = ApiServer("127.0.0.1", 0, Router())
    api.start()
    assert api.port > 0
    assert _fetch(f"{api.url}/openapi.json")[0] == 200
    api.shutdown()
    api.shutdown()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{api.url}/openapi.json", timeout=2)


def test_chunked_body_is_refused_with_411(server: ApiServer) -> None:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(
            "POST",
            "/api/v1/items",
            body=iter([b'{"id": "c"}']),
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        )
        response = connection.getresponse()
        assert response.status == 411
        assert "Content-Length" in json.loads(response.read())["error"]["message"]
    finally:
        connection.close()


def test_kept_alive_requests_do_not_wait_for_delayed_acks(server: ApiServer) -> None:
    """An answer's head and body leave at once (no Nagle): with it, each request on a
    kept-alive connection waited ~40 ms for the client's delayed ACK."""
    import http.client
    import statistics
    import time

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        durations = []
        for _ in range(30):
            began = time.perf_counter()
            connection.request("GET", "/api/v1/items/a1")
            response = connection.getresponse()
            response.read()
            durations.append(time.perf_counter() - began)
            assert response.status == 200
    finally:
        connection.close()
    assert statistics.median(durations) < 0.025, durations


def test_write_routes_answer_415_unless_the_request_says_json(server: ApiServer) -> None:
    """A form on another site can post form, multipart or text bodies only: refused."""
    for ctype, body in (
        ("application/x-www-form-urlencoded", b"id=f"),
        ("text/plain", b'{"id": "t"}'),
        ("", b""),
    ):
        status, answer_type, answer, _ = _fetch(
            f"{server.url}/api/v1/items", "POST", body or None, ctype
        )
        assert (status, answer_type) == (415, "application/json"), ctype
        assert json.loads(answer)["error"]["status"] == 415
    status, _, _, _ = _fetch(f"{server.url}/api/v1/items/f")
    assert status == 404  # the form post changed nothing
    created = _fetch(f"{server.url}/api/v1/items", "POST", b'{"id": "j"}', "application/json")
    assert created[0] == 201
    charset = "application/json; charset=utf-8"
    assert _fetch(f"{server.url}/api/v1/items", "POST", b'{"id": "k"}', charset)[0] == 201


def test_upgrade_requests_get_a_plain_answer_and_log_nothing(
    server: ApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    """``Upgrade: websocket`` (or anything else) is answered as plain HTTP, without
    uvicorn's two warnings per request (a log flood anyone could trigger)."""
    import http.client
    import logging

    caplog.set_level(logging.DEBUG, logger="uvicorn")
    for upgrade in ("websocket", "h2c", "x" * 100):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            connection.request(
                "GET",
                "/api/v1/items/a1",
                headers={
                    "Connection": "Upgrade",
                    "Upgrade": upgrade,
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                    "Sec-WebSocket-Version": "13",
                },
            )
            response = connection.getresponse()
            assert response.status == 200, upgrade
            assert json.loads(response.read())["id"] == "a1"
        finally:
            connection.close()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not warnings, [r.getMessage() for r in warnings]
