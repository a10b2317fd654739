"""The ``otlp`` exporter as a TLS client with a bearer token, against a second real
collector (an ``mlspan collector`` process) whose receivers require both: gRPC with the
token from an environment variable, HTTP with the token from a file, and an exporter with
a wrong token whose spans the downstream refuses (counted upstream as ``export_failed``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml

from mlspan.collector.service import Service, parse_config
from mlspan.collector.service.factories import default_factories
from tests.collector.security.certs import Certificates
from tests.collector.security.conftest import INGEST_TOKEN, NEXT_INGEST_TOKEN
from tests.support.otlp_client import grpc_export
from tests.support.processes import poll
from tests.support.spans import ml_request

pytestmark = pytest.mark.slow


def _banner(process: subprocess.Popen[str]) -> dict[str, str]:
    assert process.stdout is not None
    found: dict[str, str] = {}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        for key, marker in (("grpc", "OTLP/gRPC"), ("http", "OTLP/HTTP"), ("api", "query API:")):
            if marker in line:
                found[key] = line.split(marker, 1)[1].split()[-1 if key != "api" else 0]
        if "data folder" in line:
            return found
    raise AssertionError(f"downstream collector did not start (exit {process.poll()})")


@pytest.fixture
def downstream(
    tmp_path: Path, certs: Certificates, ingest_token_file: Path
) -> Iterator[dict[str, str]]:
    """A collector process whose receivers require TLS and a token."""
    secured = {
        "endpoint": "127.0.0.1:0",
        "tls": {"cert_file": str(certs.server_cert), "key_file": str(certs.server_key)},
        "auth": {"bearer_tokens": {"token_file": str(ingest_token_file)}},
    }
    config = tmp_path / "downstream.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "downstream"),
                "api": {"endpoint": "127.0.0.1:0"},
                "receivers": {"otlp": {"protocols": {"grpc": secured, "http": secured}}},
                "exporters": {"debug": {}},
                "service": {
                    "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["debug"]}}
                },
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLSPAN_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "mlspan.collector.cli.main", "collector", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        yield _banner(process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def _received(api: str) -> float | None:
    with urllib.request.urlopen(api + "/metrics", timeout=5) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith('mlspan_spans_received_total{receiver="otlp"}'):
            return float(line.split()[-1])
    return None


def test_exporter_reaches_a_tls_and_token_receiver(
    tmp_path: Path,
    certs: Certificates,
    downstream: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOWNSTREAM_TOKEN", NEXT_INGEST_TOKEN)
    token_file = tmp_path / "upstream-token"
    token_file.write_text(INGEST_TOKEN + "\n")
    wrong_file = tmp_path / "wrong-token"
    wrong_file.write_text("not-the-downstream-token-0123\n")
    tls = {"ca_file": str(certs.ca)}
    retry = {"initial_interval": 0.05, "max_interval": 0.2}
    document = {
        "data_dir": str(tmp_path / "upstream"),
        "api": {"enabled": False},
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "127.0.0.1:0"}}}},
        "exporters": {
            "otlp/grpc": {
                "endpoint": downstream["grpc"],
                "tls": tls,
                "auth": {"bearer_tokens": {"token_env": "DOWNSTREAM_TOKEN"}},
                "retry_on_failure": retry,
            },
            "otlp/http": {
                "endpoint": downstream["http"].removesuffix("/v1/traces"),
                "protocol": "http",
                "tls": tls,
                "auth": {"bearer_tokens": {"token_file": str(token_file)}},
                "retry_on_failure": retry,
            },
            "otlp/wrong": {
                "endpoint": downstream["grpc"],
                "tls": tls,
                "auth": {"bearer_tokens": {"token_file": str(wrong_file)}},
                "retry_on_failure": retry,
            },
        },
        "service": {
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "exporters": ["otlp/grpc", "otlp/http", "otlp/wrong"],
                }
            }
        },
    }
    assert downstream["http"].startswith("https://")
    factories = default_factories()
    upstream = Service(parse_config(document, factories), factories)
    upstream.start()
    try:
        address = upstream.receivers()["otlp"].grpc.address  # type: ignore[union-attr]
        with grpc.insecure_channel(address) as channel:
            for seed in range(3):
                grpc_export(channel, ml_request(5, seed=seed).SerializeToString())
        api = downstream["api"]
        poll("30 spans downstream", lambda: _received(api) == 30 or None)
        poll(
            "the refused copy counted upstream",
            lambda: upstream.stats.snapshot().spans_dropped.get("export_failed") == 15 or None,
        )
    finally:
        upstream.shutdown()
    assert _received(downstream["api"]) == 30  # the wrong token's copy never arrived
