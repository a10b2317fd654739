"""Tokens in the deploy configs come from Secrets, never from the files themselves: every
``token_file`` a collector config names is mounted from a compose secret and from the
Kubernetes Secret, no config carries an inline token, and the token folder is kept out
of git."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COLLECTOR = DEPLOY / "mlspan" / "collector.yaml"
SECRET_FOLDER = "/run/secrets/mlspan"


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}.{key}", value
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")


def _configs() -> dict[str, dict[str, Any]]:
    configmap = yaml.safe_load((DEPLOY / "k8s" / "configmap.yaml").read_text())
    return {
        "compose": yaml.safe_load(COLLECTOR.read_text()),
        "configmap": yaml.safe_load(configmap["data"]["collector.yaml"]),
    }


def _token_files(config: dict[str, Any]) -> set[str]:
    return {value for key, value in _walk(config) if key.endswith(".token_file")}


def test_every_listener_requires_a_token_from_a_secret_file() -> None:
    for name, config in _configs().items():
        listeners = [config["api"], *config["receivers"]["otlp"]["protocols"].values()]
        for listener in listeners:
            assert listener["endpoint"].startswith("0.0.0.0:"), name
            source = listener["auth"]["bearer_tokens"]
            assert set(source) == {"token_file"}, f"{name}: tokens only from files"
            assert source["token_file"].startswith(SECRET_FOLDER + "/"), name
        writes = config["api"]["writes"]["auth"]["bearer_tokens"]["token_file"]
        assert writes != config["api"]["auth"]["bearer_tokens"]["token_file"], name
        keys = {key.rsplit(".", 1)[-1] for key, _ in _walk(config)}
        assert "token" not in keys and "tokens" not in keys, f"{name}: inline token"


def test_compose_mounts_every_token_file_from_a_secret() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    collector = compose["services"]["mlspan-collector"]
    mounted = {secret["target"]: secret["source"] for secret in collector["secrets"]}
    needed = _token_files(_configs()["compose"])
    assert needed == set(mounted)
    for source in mounted.values():
        assert compose["secrets"][source]["file"].startswith("./secrets/")
    example = compose["services"]["example-app"]
    assert {secret["target"] for secret in example["secrets"]} == {f"{SECRET_FOLDER}/ingest-token"}
    assert f"{SECRET_FOLDER}/ingest-token" in (DEPLOY / "Dockerfile").read_text()


def test_token_files_are_kept_out_of_git() -> None:
    ignore = (DEPLOY / "secrets" / ".gitignore").read_text().splitlines()
    assert "*" in ignore
    assert sorted(path.name for path in (DEPLOY / "secrets").iterdir() if "token" in path.name) in (
        [],
        ["api-read-token", "api-write-token", "ingest-token"],
    )


def test_kubernetes_mounts_the_secret_as_files() -> None:
    deployment = yaml.safe_load((DEPLOY / "k8s" / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if "secret" in v)
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"])
    assert mount["mountPath"] == SECRET_FOLDER and mount["readOnly"] is True
    files = {f"{SECRET_FOLDER}/{item['path']}" for item in volume["secret"]["items"]}
    assert files == _token_files(_configs()["configmap"])
    probe = pod["containers"][0]["readinessProbe"]
    assert "httpGet" not in probe, "the API's HTTP paths answer 401 without a token"
    manifests = "".join(path.read_text() for path in (DEPLOY / "k8s").glob("*.yaml"))
    assert "kind: Secret" not in manifests, "token values are created in the cluster"
