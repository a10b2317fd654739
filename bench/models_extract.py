"""The model registry's per-span cost beside lineage extraction's, in one process.

Complements ``bench/collector_ingest.py`` (whole collector processes, noisy on a shared
machine) with CPU time of the two per-batch steps on the same parsed batches:
``lineage.extract`` (what the lineage processor does on the receiver thread) and the
``models`` processor's ``extract`` + ``ModelRegistry.observe`` (SQLite in a temporary
folder), first with every fit a version the registry has not seen (the worst case:
each one is written with its feature summaries), then again with every version known
(steady state: a further fit is counted in memory). Medians of 5 passes.

    .venv/bin/python bench/models_extract.py instrumented   # recorded churn-pipeline spans
    .venv/bin/python bench/models_extract.py synthetic      # tests/support/spans.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlspan.collector.lineage.extract import extract as lineage_extract  # noqa: E402
from mlspan.collector.models.config import ModelsConfig  # noqa: E402
from mlspan.collector.models.extract import extract as models_extract  # noqa: E402
from mlspan.collector.models.registry import ModelRegistry  # noqa: E402
from mlspan.collector.models.store import ModelStore  # noqa: E402
from mlspan.collector.pdata import FastSchema, TraceBatch  # noqa: E402
from tests.support.instrumented_spans import record_pipeline, replay  # noqa: E402
from tests.support.spans import ml_request  # noqa: E402

PASSES = 5


def cpu(batches: list[TraceBatch], step: Callable[[TraceBatch], object]) -> float:
    start = time.process_time()
    for batch in batches:
        step(batch)
    return time.process_time() - start


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "instrumented"
    schema = FastSchema.build()
    if kind == "instrumented":
        recorded = record_pipeline()
        raw = [replay(recorded, 128, seed).SerializeToString() for seed in range(40)]
    else:
        raw = [ml_request(512, seed=seed).SerializeToString() for seed in range(40)]
    batches = [TraceBatch.from_bytes(schema, body) for body in raw]
    spans = sum(b.span_count for b in batches)
    lineage: list[float] = []
    new: list[float] = []
    known: list[float] = []
    versions = 0
    for _ in range(PASSES):
        lineage.append(cpu(batches, lineage_extract))
        with tempfile.TemporaryDirectory() as folder:
            registry = ModelRegistry(ModelStore(Path(folder) / "m.sqlite"), ModelsConfig())
            registry.load()

            def observe(batch: TraceBatch, registry: ModelRegistry = registry) -> None:
                registry.observe(models_extract(batch, False, registry.known))

            new.append(cpu(batches, observe))
            known.append(cpu(batches, observe))
            versions = sum(len(registry.refs(*model)) for model in registry.models())
            registry.flush_serving()
    print(f"{kind}: {spans:,} spans in {len(batches)} batches, {versions:,} versions")
    for label, times in (
        ("lineage extract", lineage),
        ("models, new versions", new),
        ("models, versions known", known),
    ):
        median = statistics.median(times)
        per_span = median / spans * 1e6
        print(f"  {label:24s} {per_span:6.2f} us/span  {spans / median:>10,.0f} spans/CPU-s")


if __name__ == "__main__":
    main()
