"""The PostgreSQL-backed deploy variants: deploy/k8s-postgres/ and
deploy/docker-compose.postgres.yml validate, and their parts agree with each other and
with the single-store manifests they build on."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from mlspan.collector.config.loader import load_config
from mlspan.collector.service.factories import default_factories
from tests.deploy.binaries import require_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
VARIANT = DEPLOY / "k8s-postgres"


def _documents(folder: Path) -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted(folder.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def _named(kind: str, name: str, folder: Path = VARIANT) -> dict[str, Any]:
    found = [d for d in _documents(folder) if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name)
    return found[0]


def test_manifests_validate_strictly() -> None:
    binary = require_binary("kubernetes-validate", "pip install -e '.[dev]'")
    manifests = sorted(str(path) for path in VARIANT.glob("*.yaml"))
    result = subprocess.run(
        [binary, "--strict", *manifests], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == len(_documents(VARIANT))


def test_collectors_point_at_the_database_with_the_password_from_its_secret() -> None:
    collectors = _named("StatefulSet", "mlspan-collector")
    database = _named("StatefulSet", "mlspan-postgres")
    pod = collectors["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {item["name"]: item["value"] for item in container["env"]}
    service = _named("Service", "mlspan-postgres")
    host = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local"
    assert env["MLSPAN_STORAGE_URL"] == f"postgresql://mlspan@{host}:5432/mlspan"
    db_env = {
        e["name"]: e["value"] for e in database["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert (db_env["POSTGRES_USER"], db_env["POSTGRES_DB"]) == ("mlspan", "mlspan")
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    secret = volumes["postgres-password"]["secret"]
    db_volumes = {v["name"]: v for v in database["spec"]["template"]["spec"]["volumes"]}
    assert secret["secretName"] == db_volumes["password"]["secret"]["secretName"]
    path = secret["items"][0]["path"]
    assert env["MLSPAN_STORAGE_PASSWORD_FILE"] == f"{mounts['postgres-password']}/{path}"


def test_each_collector_replica_has_its_own_data_folder_behind_the_headless_service() -> None:
    collectors = _named("StatefulSet", "mlspan-collector")
    claims = [t["metadata"]["name"] for t in collectors["spec"]["volumeClaimTemplates"]]
    assert claims == ["data"]
    assert collectors["spec"]["replicas"] >= 2
    headless = _named("Service", collectors["spec"]["serviceName"], DEPLOY / "k8s")
    assert headless["spec"]["clusterIP"] == "None"
    otel = yaml.safe_load((DEPLOY / "otel-collector" / "otel-collector.yaml").read_text())
    dns = otel["exporters"]["loadbalancing"]["resolver"]["dns"]["hostname"]
    assert dns.startswith(f"{headless['metadata']['name']}.{headless['metadata']['namespace']}.")


def test_configmap_config_loads_with_the_variants_environment(tmp_path: Path) -> None:
    configmap = _named("ConfigMap", "mlspan-collector-config", DEPLOY / "k8s")
    path = tmp_path / "collector.yaml"
    path.write_text(configmap["data"]["collector.yaml"])
    container = _named("StatefulSet", "mlspan-collector")["spec"]["template"]["spec"]
    env = {item["name"]: item["value"] for item in container["containers"][0]["env"]}
    config = load_config(path, default_factories(), env=env)
    assert config.storage.url.startswith("postgresql://mlspan@")
    assert config.storage.password_file.endswith("/postgres-password")


def test_compose_override_validates_and_wires_the_password_secret() -> None:
    binary = require_binary("docker-compose", "apt-get install docker-compose")
    files = [
        "-f",
        str(DEPLOY / "docker-compose.yml"),
        "-f",
        str(DEPLOY / "docker-compose.postgres.yml"),
    ]
    result = subprocess.run(
        [binary, *files, "config"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    merged = yaml.safe_load(result.stdout)
    collector = merged["services"]["mlspan-collector"]
    database = merged["services"]["postgres"]
    password = database["environment"]["POSTGRES_PASSWORD_FILE"]
    assert collector["environment"]["MLSPAN_STORAGE_PASSWORD_FILE"] == password
    assert (
        collector["environment"]["MLSPAN_STORAGE_URL"] == "postgresql://mlspan@postgres:5432/mlspan"
    )
    targets = {s["target"] for s in collector["secrets"]}
    assert password in targets and "/run/secrets/mlspan/ingest-token" in targets
    assert "postgres" in collector["depends_on"]
