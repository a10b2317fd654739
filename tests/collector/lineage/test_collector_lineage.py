"""End to end: OTLP/HTTP into a running collector, lineage queried over its API."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mlspan.collector.service.config import parse_config
from mlspan.collector.service.factories import default_factories
from mlspan.collector.service.service import Service
from tests.collector.lineage.otlp import Pipeline, request_bytes

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.load(exc)


def test_spans_sent_over_otlp_http_become_queryable_lineage(tmp_path: Path) -> None:
    config = parse_config(
        {
            "data_dir": str(tmp_path),
            "api": {"endpoint": "127.0.0.1:0"},
            "receivers": {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:0"}}}},
            "processors": {"lineage": {"queue_size": 10}},
            "exporters": {"debug": {}},
            "service": {
                "pipelines": {
                    "traces": {
                        "receivers": ["otlp"],
                        "processors": ["lineage"],
                        "exporters": ["debug"],
                    }
                }
            },
        },
        default_factories(),
    )
    service = Service(config, default_factories())
    service.start()
    try:
        assert service.api is not None
        api = service.api.url
        http = service.receivers()["otlp"].http
        assert http is not None
        p = Pipeline()
        producer = p.span("fit", ["data:x:train"], ["model:x:m"])
        consumer = p.span("score", ["model:x:m"], ["data:x:scores"])
        for spans in ([consumer], [producer]):  # consumer first: out of order
            request = urllib.request.Request(
                f"http://127.0.0.1:{http.port}/v1/traces",
                data=request_bytes("svc", spans),
                headers={"Content-Type": "application/x-protobuf"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
        deadline = time.monotonic() + 20
        components: set[str] = set()
        while time.monotonic() < deadline:
            status, body = _get(f"{api}/api/v1/trace/data:x:scores")
            if status == 200:
                components = {r["component"] for r in body["runs"]}
                if components == {"score", "fit"}:
                    break
            time.sleep(0.1)
        assert components == {"score", "fit"}
        status, body = _get(f"{api}/api/v1/runs/0123456789abcdef")
        assert status == 404 and "0123456789abcdef" in body["error"]["message"]
    finally:
        service.shutdown()
