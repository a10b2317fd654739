"""Automatic lineage: read CSVs, clean with pandas, fit, predict, write, no ids declared."""

from __future__ import annotations

import gc
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from opentelemetry.sdk.trace import ReadableSpan
from sklearn.linear_model import LogisticRegression

from mlspan.instrumentation.digest import digest_file
from mlspan.instrumentation.model_version import model_version_of
from mlspan.instrumentation.provenance import Provenance
from mlspan.semconv import IO_INPUTS, IO_OUTPUTS
from tests.instrumentation.instrumented import instrumented


def upstream(spans: tuple[ReadableSpan, ...], artifact: str) -> tuple[set[str], set[str]]:
    """Artifacts and span names reachable backwards from ``artifact``."""
    producers: dict[str, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        for output in (span.attributes or {}).get(IO_OUTPUTS, ()):  # type: ignore[union-attr]
            producers[str(output)].append(span)
    seen_artifacts, seen_spans, todo = {artifact}, set(), [artifact]
    while todo:
        for span in producers.get(todo.pop(), []):
            seen_spans.add(span.name)
            for item in (span.attributes or {}).get(IO_INPUTS, ()):  # type: ignore[union-attr]
                if str(item) not in seen_artifacts:
                    seen_artifacts.add(str(item))
                    todo.append(str(item))
    return seen_artifacts, seen_spans


def test_output_file_traces_back_to_input_files_fit_and_model(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    customers = pd.DataFrame({"id": np.arange(400), "age": rng.normal(40, 12, 400)})
    customers.loc[::17, "age"] = np.nan
    usage = pd.DataFrame({"id": np.arange(400), "minutes": rng.gamma(2.0, 30.0, 400)})
    customers.to_csv(tmp_path / "customers.csv", index=False)
    usage.to_csv(tmp_path / "usage.csv", index=False)
    out = tmp_path / "scores.csv"

    with instrumented() as exporter:
        frame = pd.read_csv(tmp_path / "customers.csv").merge(
            pd.read_csv(tmp_path / "usage.csv"), on="id"
        )
        clean = frame.dropna().reset_index(drop=True)
        clean = clean[clean["minutes"] > 1.0]
        features = clean[["age", "minutes"]]
        model = LogisticRegression().fit(features, (clean["minutes"] > 60).astype(int))
        scored = clean[["id"]].copy()
        scored["churn"] = model.predict(features)
        scored.to_csv(out, index=False)

    artifacts, spans = upstream(exporter.get_finished_spans(), digest_file(out))
    assert digest_file(tmp_path / "customers.csv") in artifacts
    assert digest_file(tmp_path / "usage.csv") in artifacts
    assert model_version_of(model) in artifacts
    assert {"to_csv", "predict LogisticRegression", "fit LogisticRegression"} <= spans
    assert "read_csv" in spans


def test_provenance_holds_no_strong_references_and_forgets_dead_objects() -> None:
    provenance = Provenance()
    frame = pd.DataFrame({"a": [1, 2]})
    provenance.mark(frame, ["data:xxh3_128:" + "1" * 32])
    derived = frame.copy()
    provenance.derive(derived, [frame])
    assert provenance.ancestors(derived) == provenance.ancestors(frame)
    del frame, derived
    gc.collect()
    assert not provenance._entries  # type: ignore[attr-defined]
