"""Every collector config shipped in the repository passes ``mlspan collector
--check-config``: the compose/image config, the Kubernetes ConfigMap and the demo's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_CONFIG = ROOT / "deploy" / "mlspan" / "collector.yaml"
DEMO_CONFIG = ROOT / "examples" / "demo-collector.yaml"
CONFIGMAP = ROOT / "deploy" / "k8s" / "configmap.yaml"


def _configmap_config() -> str:
    configmap = yaml.safe_load(CONFIGMAP.read_text())
    text: str = configmap["data"]["collector.yaml"]
    return text


def _check(config: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLSPAN_")}
    command = [sys.executable, "-m", "mlspan.collector.cli.main", "collector"]
    return subprocess.run(
        [*command, "--check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


@pytest.mark.parametrize("name", ["compose", "configmap", "demo"])
def test_config_passes_check_config(name: str, tmp_path: Path) -> None:
    config = {"compose": COMPOSE_CONFIG, "demo": DEMO_CONFIG}.get(name)
    if config is None:
        config = tmp_path / "collector.yaml"
        config.write_text(_configmap_config())
    result = _check(config)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_config_rejects_a_wrong_key(tmp_path: Path) -> None:
    # Guards the test above: --check-config really reads and validates the file.
    config = tmp_path / "collector.yaml"
    config.write_text(COMPOSE_CONFIG.read_text().replace("lineage: {}", "lineage: {bogus: 1}"))
    result = _check(config)
    assert result.returncode != 0
    assert "bogus" in result.stdout + result.stderr


def test_configmap_matches_the_compose_config_but_for_jaeger() -> None:
    deployed = yaml.safe_load(_configmap_config())
    composed = yaml.safe_load(COMPOSE_CONFIG.read_text())
    jaeger = deployed["exporters"].pop("otlp/jaeger")
    composed["exporters"].pop("otlp/jaeger")
    assert deployed == composed
    assert jaeger["endpoint"].endswith(":4317")


def test_container_configs_listen_on_every_interface() -> None:
    for config in (yaml.safe_load(COMPOSE_CONFIG.read_text()), yaml.safe_load(_configmap_config())):
        protocols = config["receivers"]["otlp"]["protocols"]
        assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
        assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
        assert config["api"]["endpoint"] == "0.0.0.0:4319"
        assert config["data_dir"] == "/var/lib/mlspan"
