"""deploy/otel-collector/: the OpenTelemetry Collector config fronting mlspan collectors.

The OpenTelemetry Collector binary cannot be installed here, so this checks what its own
config validation would reject (a pipeline naming an undefined component) and what the
scale-out design depends on: traces routed by service to mlspan's OTLP/gRPC port, through
a resolver that names exactly one way to find the replicas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CONFIG = DEPLOY / "otel-collector" / "otel-collector.yaml"
RESOLVERS = {"static", "dns", "k8s", "aws_cloud_map"}


def _config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    return loaded


def test_every_pipeline_component_is_defined() -> None:
    config = _config()
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces"}
    for pipeline in pipelines.values():
        for section in ("receivers", "processors", "exporters"):
            for name in pipeline.get(section, []):
                assert name in config[section], f"{section}: {name} is not defined"
    for name in config["service"].get("extensions", []):
        assert name in config["extensions"]


def test_loadbalancing_routes_by_service_to_mlspan() -> None:
    config = _config()
    traces = config["service"]["pipelines"]["traces"]
    assert traces["exporters"] == ["loadbalancing"]
    exporter = config["exporters"]["loadbalancing"]
    assert exporter["routing_key"] == "service"
    assert "otlp" in exporter["protocol"]
    resolvers = set(exporter["resolver"]) & RESOLVERS
    assert len(resolvers) == 1, "the loadbalancing exporter takes exactly one resolver"
    assert set(exporter["resolver"]) == resolvers
    dns = exporter["resolver"]["dns"]
    assert dns["port"] == 4317


def test_dns_resolver_names_the_headless_service() -> None:
    hostname = _config()["exporters"]["loadbalancing"]["resolver"]["dns"]["hostname"]
    name, namespace = hostname.split(".")[:2]
    services = [
        doc
        for doc in yaml.safe_load_all((DEPLOY / "k8s" / "service.yaml").read_text())
        if doc and doc["metadata"]["name"] == name
    ]
    assert len(services) == 1
    assert services[0]["metadata"]["namespace"] == namespace
    assert services[0]["spec"]["clusterIP"] == "None"
    assert [port["port"] for port in services[0]["spec"]["ports"]] == [4317]


def test_the_ingest_token_is_sent_to_mlspan_and_required_from_applications() -> None:
    # mlspan's receivers require the ingest token; the Collector reads the same file.
    config = _config()
    assert "bearertokenauth/ingest" in config["service"]["extensions"]
    extension = config["extensions"]["bearertokenauth/ingest"]
    assert set(extension) == {"filename"}, "tokens come from the Secret file, never inline"
    mlspan = yaml.safe_load((DEPLOY / "mlspan" / "collector.yaml").read_text())
    grpc = mlspan["receivers"]["otlp"]["protocols"]["grpc"]
    assert extension["filename"] == grpc["auth"]["bearer_tokens"]["token_file"]
    otlp = config["exporters"]["loadbalancing"]["protocol"]["otlp"]
    assert otlp["auth"]["authenticator"] == "bearertokenauth/ingest"
    for protocol in config["receivers"]["otlp"]["protocols"].values():
        assert protocol["auth"]["authenticator"] == "bearertokenauth/ingest"
