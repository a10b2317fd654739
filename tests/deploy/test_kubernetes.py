"""deploy/k8s/ passes kubernetes-validate --strict; its collector config is valid."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.deploy.binaries import require_binary

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


def _documents() -> list[dict[str, object]]:
    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        documents.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return documents


def test_manifests_validate_strictly() -> None:
    binary = require_binary("kubernetes-validate", "pip install -e '.[dev]'")
    manifests = sorted(str(path) for path in K8S.glob("*.yaml"))
    result = subprocess.run(
        [binary, "--strict", *manifests], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == len(_documents())


def test_collector_deployment_service_configmap_and_volume() -> None:
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in _documents()}  # type: ignore[index]
    assert ("Deployment", "mlspan-collector") in kinds
    assert ("Service", "mlspan-collector") in kinds
    assert ("ConfigMap", "mlspan-collector-config") in kinds
    assert ("PersistentVolumeClaim", "mlspan-data") in kinds
    deployment = next(doc for doc in _documents() if doc["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]  # type: ignore[index]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "mlspan-data"
    assert volumes["config"]["configMap"]["name"] == "mlspan-collector-config"
