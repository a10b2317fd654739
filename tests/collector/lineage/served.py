"""A small pipeline's lineage served by a real ApiServer on 127.0.0.1 (port 0).

``load -> clean -> train`` (model) and ``predict`` (writes ``out/predictions.csv``),
plus a second ``clean`` run that supersedes the one the model was built from.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan.collector.api import ApiServer, Router
from mlspan.collector.api.lineage_routes import register_lineage_routes
from mlspan.collector.lineage import LineageConfig, LineageProcessor, LineageQueries
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.store import open_store
from tests.collector.lineage.otlp import Pipeline, batch, sourced


@dataclass
class Served:
    """The running server and the spans behind its data."""

    server: ApiServer
    spans: dict[str, trace_pb2.Span]
    predictions_file: str

    @property
    def url(self) -> str:
        return self.server.url

    def run_id(self, name: str) -> str:
        return self.spans[name].span_id.hex()


@contextmanager
def served_pipeline(data_dir: Path, predictions_file: str = "file:x:preds") -> Iterator[Served]:
    """Ingest the pipeline through the lineage processor and serve it."""
    store = open_store(data_dir)
    p = Pipeline()
    spans = {
        "load": p.span("load", ["file:x:raw"], ["data:x:raw"], extra=sourced("in/raw.csv")),
        "clean": p.span("clean", ["data:x:raw"], ["data:x:clean"]),
        "train": p.span("train", ["data:x:clean"], ["model:x:m1"]),
        "predict": p.span(
            "predict",
            ["model:x:m1", "data:x:batch"],
            [predictions_file],
            extra=sourced("out/predictions.csv"),
        ),
        "clean2": p.span("clean", ["data:x:raw"], ["data:x:clean2"]),
    }
    processor = LineageProcessor(LineageConfig(), store, IngestStats())
    processor.start()
    processor.consume(batch("svc", list(spans.values())))
    assert processor.flush(10)
    processor.shutdown()
    router = Router()
    register_lineage_routes(router, LineageQueries(store))
    server = ApiServer("127.0.0.1", 0, router)
    server.start()
    try:
        yield Served(server, spans, predictions_file)
    finally:
        server.shutdown()
        store.close()
