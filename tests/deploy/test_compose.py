"""deploy/docker-compose.yml validates with Debian's docker-compose and is complete."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.deploy.binaries import require_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
SERVICES = {"mlspan-collector", "example-app", "jaeger", "prometheus", "alertmanager", "grafana"}


def _compose() -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_docker_compose_config_validates() -> None:
    binary = require_binary("docker-compose", "apt-get install docker-compose")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_has_the_whole_stack_and_no_v2_only_keys() -> None:
    compose = _compose()
    assert "name" not in compose
    assert "include" not in compose
    services = compose["services"]
    assert isinstance(services, dict)
    assert set(services) == SERVICES


def test_every_bind_mount_source_exists() -> None:
    # `docker-compose config` does not look at bind-mount sources; a typo would only
    # show when the stack starts.
    services = _compose()["services"]
    assert isinstance(services, dict)
    checked = 0
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} is missing"
                checked += 1
    assert checked == 6


def test_dockerfile_copies_existing_paths_and_binds_all_interfaces() -> None:
    root = DEPLOY.parent
    copies = [
        line.split()[1:-1]
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
    ]
    sources = [source for sources in copies for source in sources]
    assert "deploy/mlspan/collector.yaml" in sources
    for source in sources:
        assert (root / source).exists(), f"Dockerfile copies missing {source}"
    config = (DEPLOY / "mlspan" / "collector.yaml").read_text()
    assert "0.0.0.0:4317" in config
    assert "0.0.0.0:4318" in config
    assert "0.0.0.0:4319" in config
