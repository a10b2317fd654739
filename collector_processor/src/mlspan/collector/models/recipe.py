"""What it takes to recreate a version: code, exact inputs, parameters, libraries.

The inputs come from the lineage store: the upstream graph of the version's model
artifact (its fit run, the data it was fitted on, the reads and components that made
that data, the files they read), each artifact with the paths it was known by. Files
are identified by the digest of their bytes (``file:xxh3_128:...``); whoever holds them
can re-digest them with ``mlspan.instrumentation.digest.digest_file`` and compare, which
``mlspan model show NAME vN --recipe`` does for the paths that exist on its machine.
"""

from __future__ import annotations

from typing import Any, Final

from mlspan.collector.lineage.queries import LineageQueries
from mlspan.collector.lineage.views import UnknownReferenceError
from mlspan.collector.models import lineage_links
from mlspan.collector.models.params import parse
from mlspan.collector.models.queries import ModelQueries, libraries_of

MAX_DEPTH: Final = 50


def recipe(queries: ModelQueries, name: str, version: str, service: str | None) -> dict[str, Any]:
    """The recipe of one version (see the module docstring)."""
    ref = queries.registry.resolve(name, version, service)
    row = queries.row(ref)
    code = lineage_links.code_version(queries.store, row.run_id, row.trace_id, row.parent_id)
    inputs: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    complete = False
    if queries.store is not None:
        try:
            graph = LineageQueries(queries.store).trace(ref.digest, MAX_DEPTH)
        except UnknownReferenceError:
            graph = None
        if graph is not None:
            complete = not graph["truncated"]
            for artifact in sorted(
                graph["artifacts"], key=lambda a: (a["depth"], a["artifact_id"])
            ):
                if artifact["artifact_id"] == ref.digest or artifact["kind"] == "model":
                    continue
                inputs.append(
                    {
                        "artifact_id": artifact["artifact_id"],
                        "kind": artifact["kind"],
                        "paths": artifact["names"],
                        "depth": artifact["depth"],
                        "role": _role(artifact["artifact_id"], row.train_digest, row.target_digest),
                    }
                )
            for run in sorted(graph["runs"], key=lambda r: (-r["depth"], r["start_ns"])):
                runs.append(
                    {
                        "run_id": run["run_id"],
                        "name": run["name"],
                        "operation": run["operation"],
                        "component": run["component"],
                        "service": run["service"],
                        "code_commit": run["code_commit"] or None,
                        "code_digest": run["code_digest"] or None,
                        "depth": run["depth"],
                    }
                )
    if not any(i["artifact_id"] == row.train_digest for i in inputs) and row.train_digest:
        inputs.append(
            {
                "artifact_id": row.train_digest,
                "kind": "data",
                "paths": [],
                "depth": 1,
                "role": "train",
            }
        )
    return {
        "service": ref.service,
        "model": ref.name,
        "version": ref.label,
        "digest": ref.digest,
        "class": row.model_class,
        "params": parse(row.params),
        "code": None
        if code is None
        else {
            "commit": code.commit or None,
            "digest": code.digest or None,
            "component": code.component,
        },
        "framework_version": row.framework_version or None,
        "libraries": libraries_of(row.libraries),
        "inputs": inputs,
        "runs": runs,
        "lineage_complete": complete,
    }


def _role(artifact_id: str, train: str, target: str) -> str:
    if artifact_id == train:
        return "train"
    if artifact_id == target:
        return "target"
    return "upstream"
