"""A parallel search under ``opentelemetry-instrument``: loky workers stay in the search's trace.

``opentelemetry-instrument`` puts its ``sitecustomize`` on ``PYTHONPATH``, so joblib's
loky worker processes are instrumented too. Without the caller's context a candidate fit
in a worker would be a full run in a trace of its own (one root trace per candidate).
A GridSearchCV with ``n_jobs=2`` runs in a subprocess against a real OTLP receiver:
by default the search is one span and nothing else arrives; with candidate spans
requested, every candidate span from the workers carries the search's trace id and
parent chain, and none is a root.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlspan.semconv import CALL_ROLE, SEARCH_CANDIDATES
from tests.support.launcher import run_instrumented
from tests.support.otlp_sink import OtlpSink, ReceivedSpan

pytestmark = pytest.mark.slow

SCRIPT = """\
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_digits(return_X_y=True)
search = GridSearchCV(
    make_pipeline(StandardScaler(), LogisticRegression(max_iter=30)),
    {"logisticregression__C": [0.01, 0.1, 1.0]},
    cv=3,
    n_jobs=2,
)
search.fit(X, y)
print("best:", search.best_params_, round(float(search.best_score_), 6))
"""


def run(tmp_path: Path, extra: dict[str, str]) -> tuple[str, list[ReceivedSpan]]:
    script = tmp_path / "search.py"
    script.write_text(SCRIPT, encoding="utf-8")
    with OtlpSink() as sink:
        done = run_instrumented(
            [str(script)],
            cwd=tmp_path,
            grpc_endpoint=sink.grpc_endpoint,
            service="parallel-search",
            extra=extra,
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        return done.stdout, sink.received_spans()


def test_by_default_the_parallel_search_is_one_span(tmp_path: Path) -> None:
    stdout, spans = run(tmp_path, {})
    assert stdout.startswith("best:")
    assert [span.span.name for span in spans] == ["fit GridSearchCV"]
    assert spans[0].attributes[SEARCH_CANDIDATES] == 3


def test_candidate_spans_from_loky_workers_join_the_search_trace(tmp_path: Path) -> None:
    _, spans = run(tmp_path, {"OTEL_INSTRUMENTATION_MLSPAN_CANDIDATE_SPANS": "true"})
    (search,) = [span for span in spans if span.span.name == "fit GridSearchCV"]
    candidates = [span for span in spans if span is not search]
    fits = [span for span in candidates if span.span.name == "fit Pipeline"]
    assert len(fits) == 3 * 3 + 1  # candidates x folds, plus the refit in the parent
    by_id = {span.span.span_id: span for span in spans}
    for span in candidates:
        assert span.span.trace_id == search.span.trace_id
        assert span.attributes[CALL_ROLE] == "candidate"
        parent = by_id.get(span.span.parent_span_id)
        while parent is not None and parent is not search:
            parent = by_id.get(parent.span.parent_span_id)
        assert parent is search, span.span.name
