"""The query API behind TLS with a read token and a separate write token, on a real
collector service: reads and writes each with no, a wrong, the read and the write token;
writes disabled; the CLI reaching it with ``MLSPAN_API_TOKEN`` and
``MLSPAN_API_CA_FILE``."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import grpc
import pytest

from mlspan.collector.api.client import ApiClient, ApiError
from mlspan.collector.service import Service, parse_config
from mlspan.collector.service.factories import default_factories
from tests.collector.security.certs import Certificates
from tests.collector.security.conftest import READ_TOKEN, WRITE_TOKEN
from tests.support.otlp_client import grpc_export
from tests.support.processes import poll
from tests.support.spans import ml_request

pytestmark = pytest.mark.slow

NOTES = "/api/v1/components/train/notes"


def _start(tmp_path: Path, api: dict[str, Any], context: ssl.SSLContext | None = None) -> Service:
    document = {
        "data_dir": str(tmp_path / "data"),
        "api": {"endpoint": "127.0.0.1:0", **api},
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "127.0.0.1:0"}}}},
        "processors": {"lineage": {}},
        "service": {"pipelines": {"traces": {"receivers": ["otlp"], "processors": ["lineage"]}}},
    }
    factories = default_factories()
    service = Service(parse_config(document, factories), factories)
    service.start()
    address = service.receivers()["otlp"].grpc.address  # type: ignore[union-attr]
    with grpc.insecure_channel(address) as channel:  # runs of the "train" component
        grpc_export(channel, ml_request(20).SerializeToString())
    assert service.api is not None
    url = service.api.url + NOTES
    poll("the train component", lambda: _call(url, "GET", READ_TOKEN, context)[0] == 200 or None)
    return service


def _token_files(tmp_path: Path) -> tuple[Path, Path]:
    read, write = tmp_path / "read-token", tmp_path / "write-token"
    read.write_text(READ_TOKEN + "\n")
    write.write_text(WRITE_TOKEN + "\n")
    return read, write


@pytest.fixture
def secured(tmp_path: Path, certs: Certificates) -> Iterator[Service]:
    read, write = _token_files(tmp_path)
    service = _start(
        tmp_path,
        {
            "tls": {"cert_file": str(certs.server_cert), "key_file": str(certs.server_key)},
            "auth": {"bearer_tokens": {"token_file": str(read)}},
            "writes": {"auth": {"bearer_tokens": {"token_file": str(write)}}},
        },
        ssl.create_default_context(cafile=str(certs.ca)),
    )
    try:
        yield service
    finally:
        service.shutdown()


def _call(
    url: str, method: str, token: str | None, context: ssl.SSLContext | None
) -> tuple[int, Message]:
    data = json.dumps({"text": "checked by hand"}).encode() if method == "POST" else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            response.read()
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        with error:
            error.read()
            return error.code, error.headers


def test_reads_and_writes_need_their_tokens(secured: Service, certs: Certificates) -> None:
    assert secured.api is not None
    assert secured.api.url.startswith("https://")
    context = ssl.create_default_context(cafile=str(certs.ca))
    base = secured.api.url
    for path in ("/api/v1/flags", "/metrics", NOTES):
        statuses = [_call(base + path, "GET", t, context)[0] for t in (None, "wrong-token-x")]
        assert statuses == [401, 401], path
        assert _call(base + path, "GET", READ_TOKEN, context)[0] == 200, path
        assert _call(base + path, "GET", WRITE_TOKEN, context)[0] == 200, path
    status, headers = _call(base + NOTES, "POST", None, context)
    assert status == 401 and headers["WWW-Authenticate"] == 'Bearer realm="mlspan"'
    status, headers = _call(base + NOTES, "POST", "wrong-token-x", context)
    assert status == 401 and 'error="invalid_token"' in headers["WWW-Authenticate"]
    status, headers = _call(base + NOTES, "POST", READ_TOKEN, context)
    assert status == 403 and 'error="insufficient_scope"' in headers["WWW-Authenticate"]
    assert _call(base + NOTES, "POST", WRITE_TOKEN, context)[0] == 200
    client = ApiClient(base, token=READ_TOKEN, ca_file=str(certs.ca))
    notes = client.request("GET", NOTES)["notes"]
    assert [note["text"] for note in notes] == ["checked by hand"]
    with pytest.raises(ApiError) as refused:
        client.request("POST", NOTES, body={"text": "not allowed"})
    assert refused.value.status == 403


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlspan.collector.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def test_cli_sends_the_token_from_the_environment(
    secured: Service, certs: Certificates, tmp_path: Path
) -> None:
    assert secured.api is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLSPAN_")}
    env.update({"MLSPAN_API": secured.api.url, "MLSPAN_API_CA_FILE": str(certs.ca)})
    refused = _cli("note", "component", "train", "from the CLI", env=env)
    assert refused.returncode != 0 and "authentication required" in refused.stderr
    token_file = tmp_path / "cli-token"
    token_file.write_text(WRITE_TOKEN + "\n")
    written = _cli(
        "note",
        "component",
        "train",
        "from the CLI",
        env={**env, "MLSPAN_API_TOKEN_FILE": str(token_file)},
    )
    assert written.returncode == 0, written.stderr
    listed = _cli("note", "component", "train", env={**env, "MLSPAN_API_TOKEN": READ_TOKEN})
    assert listed.returncode == 0, listed.stderr
    assert "from the CLI" in listed.stdout
    untrusted = {**env, "MLSPAN_API_TOKEN": READ_TOKEN, "MLSPAN_API_CA_FILE": str(certs.other_ca)}
    failed = _cli("recent", env=untrusted)
    assert failed.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in failed.stderr


def test_writes_can_be_disabled(tmp_path: Path) -> None:
    read, _ = _token_files(tmp_path)
    service = _start(
        tmp_path,
        {"auth": {"bearer_tokens": {"token_file": str(read)}}, "writes": {"enabled": False}},
    )
    try:
        assert service.api is not None
        url = service.api.url + NOTES
        assert _call(url, "POST", READ_TOKEN, None)[0] == 403
        assert _call(url, "POST", None, None)[0] == 403
        assert _call(url, "GET", READ_TOKEN, None)[0] == 200
        assert _call(url, "GET", None, None)[0] == 401
    finally:
        service.shutdown()


def test_default_api_stays_open_on_loopback_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = _start(tmp_path, {})
    try:
        assert service.api is not None
        assert service.api.url.startswith("http://127.0.0.1:")
        assert _call(service.api.url + NOTES, "POST", None, None)[0] == 200
    finally:
        service.shutdown()
    assert "without authentication" not in caplog.text
