"""Configuration: defaults, validation errors naming the key, overrides, --check-config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspan.collector.cli.main import main
from mlspan.collector.config import Overrides, default_document, load_config
from mlspan.collector.config.loader import read_document
from mlspan.collector.exporters.otlp import OtlpExporterConfig
from mlspan.collector.pdata import TraceBatch, TracesConsumer
from mlspan.collector.pipeline.factory import ConfigError, Factory, Host, Kind
from mlspan.collector.receivers.otlp import OtlpReceiverConfig
from mlspan.collector.receivers.otlp.config import is_loopback, split_endpoint
from mlspan.collector.service.config import parse_config
from mlspan.collector.service.factories import default_factories
from mlspan.collector.service.graph import build_graph

FACTORIES = default_factories()


def _document(**sections: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "receivers": {"otlp": {}},
        "exporters": {"debug": {}},
        "service": {"pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["debug"]}}},
    }
    document.update(sections)
    return document


def _error(document: dict[str, Any], factories: list[Factory[Any]] | None = None) -> str:
    with pytest.raises(ConfigError) as failed:
        parse_config(document, factories or FACTORIES)
    return str(failed.value)


def test_default_configuration_uses_loopback_ports_and_local_data_folder() -> None:
    config = load_config(None, FACTORIES, env={})
    receiver = config.spec(Kind.RECEIVER, "otlp").config
    assert isinstance(receiver, OtlpReceiverConfig)
    assert receiver.protocols.grpc is not None and receiver.protocols.http is not None
    assert receiver.protocols.grpc.endpoint == "127.0.0.1:4317"
    assert receiver.protocols.http.endpoint == "127.0.0.1:4318"
    assert config.api.endpoint == "127.0.0.1:4319"
    assert config.data_dir == "./.mlspan"
    assert config.storage.url == ""
    assert list(config.service.pipelines) == ["traces"]


def test_default_pipeline_includes_installed_default_components() -> None:
    document = default_document(FACTORIES)
    pipeline = document["service"]["pipelines"]["traces"]
    installed = {f.type_name: f.kind for f in FACTORIES}
    for name in ("lineage", "drift", "alerts"):
        listed = name in pipeline["processors"] or name in pipeline["exporters"]
        assert listed == (name in installed)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (_document(recievers={}), "unknown key 'recievers'"),
        (
            _document(receivers={"otlp": {"protocols": {"grpc": {"endpiont": "x"}}}}),
            "receivers.otlp.protocols.grpc: unknown key 'endpiont'",
        ),
        (
            _document(receivers={"otlp": {"protocols": {"grpc": {"max_recv_msg_size_mib": "9"}}}}),
            "receivers.otlp.protocols.grpc.max_recv_msg_size_mib: expected int",
        ),
        (
            _document(receivers={"otlp": {"protocols": {"http": {"endpoint": "localhost"}}}}),
            "receivers.otlp.protocols.http: endpoint: 'localhost' is not host:port",
        ),
        (
            _document(receivers={"otlp": {"protocols": {}}}),
            "receivers.otlp.protocols: protocols: enable grpc, http or both",
        ),
        (_document(receivers={"kafka": {}}), "receivers.kafka: unknown type 'kafka'"),
        (
            _document(exporters={"otlp/jaeger": {"endpoint": "127.0.0.1:4317", "protocol": "tcp"}}),
            "exporters.otlp/jaeger.protocol: 'tcp' is not one of grpc, http",
        ),
        (
            _document(exporters={"otlp": {"protocol": "http", "endpoint": "127.0.0.1:4318"}}),
            "exporters.otlp: endpoint '127.0.0.1:4318' must be an http(s) URL",
        ),
        (
            _document(exporters={"otlp": {"endpoint": "h:1", "sending_queue": {"queue_size": 0}}}),
            "exporters.otlp.sending_queue: queue_size must be >= 1",
        ),
        (
            _document(
                exporters={"otlp": {"endpoint": "h:1", "retry_on_failure": {"multiplier": 0.5}}}
            ),
            "exporters.otlp.retry_on_failure: multiplier must be >= 1",
        ),
        (
            _document(exporters={"otlp": {"endpoint": "h:1", "headers": {"a": 1}}}),
            "exporters.otlp.headers.a: expected str",
        ),
        (_document(api={"endpoint": "4319"}), "api: endpoint: '4319' is not host:port"),
        (_document(api={"enabled": "yes"}), "api.enabled: expected bool"),
        (_document(data_dir=""), "data_dir: expected a folder path"),
        (_document(service={"pipelines": {}}), "service: pipelines: at least one pipeline"),
        (
            _document(service={"pipelines": {"metrics": {"receivers": ["otlp"]}}}),
            "pipelines.metrics: unsupported signal",
        ),
        (
            _document(service={"pipelines": {"traces": {"receivers": ["otlp/2"]}}}),
            "service.pipelines.traces.receivers: 'otlp/2' is not declared",
        ),
        (
            _document(
                service={"pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["x"]}}}
            ),
            "service.pipelines.traces.exporters: 'x' is not declared",
        ),
        (
            _document(service={"pipelines": {"traces": {"receivers": []}}}),
            "service.pipelines.traces: receivers: a pipeline needs at least one receiver",
        ),
        (
            _document(service={"pipelines": {"traces": {"receivers": "otlp"}}}),
            "service.pipelines.traces.receivers: expected a list",
        ),
    ],
)
def test_errors_name_the_key(document: dict[str, Any], expected: str) -> None:
    assert expected in _error(document)


def test_present_empty_protocol_section_enables_only_that_protocol() -> None:
    config = parse_config(_document(receivers={"otlp": {"protocols": {"grpc": None}}}), FACTORIES)
    receiver = config.spec(Kind.RECEIVER, "otlp").config
    assert receiver.protocols.grpc is not None
    assert receiver.protocols.http is None


def test_configs_are_frozen() -> None:
    config = parse_config(
        _document(exporters={"otlp": {"endpoint": "127.0.0.1:4317"}, "debug": {}}), FACTORIES
    )
    exporter = config.spec(Kind.EXPORTER, "otlp").config
    assert isinstance(exporter, OtlpExporterConfig)
    with pytest.raises(AttributeError):
        exporter.endpoint = "elsewhere:1"  # type: ignore[misc]


def test_overrides_flags_over_env_over_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump(
            _document(receivers={"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:9"}}}})
        )
    )
    env = {
        "MLSPAN_GRPC_ENDPOINT": "127.0.0.1:1111",
        "MLSPAN_HTTP_ENDPOINT": "127.0.0.1:2222",
        "MLSPAN_DATA_DIR": str(tmp_path / "env"),
        "MLSPAN_API_ENDPOINT": "127.0.0.1:3333",
    }
    flags = Overrides(http_endpoint="0.0.0.0:4444", storage_url="sqlite:///x.db")
    config = load_config(path, FACTORIES, flags, env)
    receiver = config.spec(Kind.RECEIVER, "otlp").config
    assert receiver.protocols.grpc.endpoint == "127.0.0.1:1111"  # env turns gRPC on
    assert receiver.protocols.http.endpoint == "0.0.0.0:4444"  # flag beats env and file
    assert config.data_dir == str(tmp_path / "env")
    assert config.api.endpoint == "127.0.0.1:3333"
    assert config.storage.url == "sqlite:///x.db"


def test_postgres_url_and_password_file_from_env(tmp_path: Path) -> None:
    env = {
        "MLSPAN_STORAGE_URL": "postgresql://mlspan@db:5432/mlspan",
        "MLSPAN_STORAGE_PASSWORD_FILE": str(tmp_path / "pw"),
    }
    (tmp_path / "pw").write_text("s3cret\n")
    storage = load_config(None, FACTORIES, env=env).storage
    assert storage.url == "postgresql://mlspan@db:5432/mlspan"
    assert storage.password() == "s3cret"


def test_config_file_from_env_and_override_without_otlp_receiver(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_document(data_dir="from-file")))
    assert load_config(None, FACTORIES, env={"MLSPAN_CONFIG": str(path)}).data_dir == "from-file"
    renamed = _document(receivers={"otlp/in": {}})
    renamed["service"]["pipelines"]["traces"]["receivers"] = ["otlp/in"]
    path.write_text(yaml.safe_dump(renamed))
    with pytest.raises(ConfigError, match="--grpc-endpoint: the configuration has no receiver"):
        load_config(path, FACTORIES, Overrides(grpc_endpoint="127.0.0.1:1"), {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a: [1, 2", "invalid YAML"), ("- 1\n- 2\n", "top level must be a mapping")],
)
def test_unreadable_files(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        read_document(path)
    with pytest.raises(ConfigError, match="cannot read"):
        read_document(tmp_path / "missing.yaml")


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(_document()))
    assert main(["collector", "--check-config", str(good)]) == 0
    assert "configuration is valid" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_document(exporters={"debug": {"verbosity": "loud"}})))
    assert main(["collector", "--check-config", str(bad)]) == 2
    error = capsys.readouterr().err
    assert "exporters.debug.verbosity: 'loud' is not one of basic, normal, detailed" in error
    assert not (tmp_path / ".mlspan").exists()


@dataclass(frozen=True)
class ForwardConfig:
    def validate(self) -> None:
        """Nothing to check."""


class Forward:
    """A traces-to-traces connector: passes batches to the pipelines it feeds."""

    def __init__(self, next_consumer: TracesConsumer | None) -> None:
        self.next = next_consumer

    def consume(self, batch: TraceBatch) -> None:
        if self.next is not None:
            self.next.consume(batch)

    def start(self) -> None:
        """Nothing to start."""

    def shutdown(self) -> None:
        """Nothing to flush."""


FORWARD = Factory(Kind.CONNECTOR, "forward", ForwardConfig, lambda c, h, n: Forward(n))


def _connector_document(pipelines: dict[str, Any]) -> dict[str, Any]:
    return _document(connectors={"forward": {}}, service={"pipelines": pipelines})


def test_connectors_link_pipelines_and_cycles_fail(tmp_path: Path) -> None:
    document = _connector_document(
        {
            "traces/in": {"receivers": ["otlp"], "exporters": ["forward"]},
            "traces/out": {"receivers": ["forward"], "exporters": ["debug"]},
        }
    )
    config = parse_config(document, [*FACTORIES, FORWARD])
    graph = build_graph(config, Host(data_dir=tmp_path))
    order = [(kind, cid) for kind, cid, _ in graph.started_order]
    assert order == [
        (Kind.EXPORTER, "debug"),
        (Kind.CONNECTOR, "forward"),
        (Kind.RECEIVER, "otlp"),
    ]
    assert isinstance(graph.of_kind(Kind.CONNECTOR)["forward"].next, object)
    cyclic = _connector_document(
        {
            "traces/a": {"receivers": ["otlp", "forward"], "exporters": ["forward"]},
        }
    )
    config = parse_config(cyclic, [*FACTORIES, FORWARD])
    with pytest.raises(ConfigError, match="connectors form a cycle"):
        build_graph(config, Host(data_dir=tmp_path))
    dangling = _connector_document({"traces": {"receivers": ["otlp", "forward"]}})
    assert "used as a receiver but no pipeline exports to it" in _error(
        dangling, [*FACTORIES, FORWARD]
    )


ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    "shipped", ["examples/demo-collector.yaml", "deploy/mlspan/collector.yaml"]
)
def test_shipped_configuration_files_are_valid(shipped: str) -> None:
    assert main(["collector", "--check-config", str(ROOT / shipped)]) == 0


@pytest.mark.parametrize(
    ("endpoint", "host", "port", "loopback"),
    [
        ("127.0.0.1:4317", "127.0.0.1", 4317, True),
        ("localhost:0", "localhost", 0, True),
        ("[::1]:4318", "::1", 4318, True),
        ("0.0.0.0:4317", "0.0.0.0", 4317, False),
        ("10.1.2.3:80", "10.1.2.3", 80, False),
    ],
)
def test_endpoints_and_loopback(endpoint: str, host: str, port: int, loopback: bool) -> None:
    assert split_endpoint(endpoint) == (host, port)
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("endpoint", ["4317", "host:", ":4317", "host:99999", "host:http"])
def test_bad_endpoints(endpoint: str) -> None:
    with pytest.raises(ConfigError, match="is not host:port"):
        split_endpoint(endpoint)


def test_new_limits_are_read_from_the_file_and_checked() -> None:
    document = _document(
        metrics={"max_series_per_service": 500},
        exporters={"otlp/jaeger": {"endpoint": "127.0.0.1:14317", "max_request_bytes": 1 << 20}},
    )
    document["service"]["pipelines"]["traces"]["exporters"] = ["otlp/jaeger"]
    config = parse_config(document, FACTORIES)
    assert config.metrics.max_series_per_service == 500
    exporter = config.spec(Kind.EXPORTER, "otlp/jaeger").config
    assert isinstance(exporter, OtlpExporterConfig)
    assert exporter.max_request_bytes == 1 << 20
    assert "max_series_per_service" in _error(_document(metrics={"max_series_per_service": 0}))
    document["exporters"]["otlp/jaeger"]["max_request_bytes"] = 10
    assert "max_request_bytes" in _error(document)
