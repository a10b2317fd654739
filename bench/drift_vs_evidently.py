"""Drift from mlspan summaries against Evidently's DataDriftPreset, on the same frames.

    .venv/bin/python bench/drift_vs_evidently.py [--rows 100000] [--repeats 9]

Builds a 100k x 20 reference frame and a current frame (15 numerical, 5 categorical
columns; some shifted, one shifted by a practically irrelevant 0.03 sigma) and times, in
one run on the same data, each after one untimed warm-up run and as the median of
``--repeats`` timed runs (wall and CPU time: the machine is shared):

* mlspan: summarising both pandas frames with the instrumentation's ``Summarizer`` (what
  happens in the application), carrying the summaries through span events and back (each
  summary's event attributes, an OTLP request serialized, parsed as the collector parses
  it, and every summary decoded with the collector's checked ``decode_summary``), plus
  drift from the decoded summaries (what the collector does when a window closes);
* Evidently 0.7.23 ``Report([DataDriftPreset()]).run(current, reference)`` alone (no
  snapshot rendering), in its own virtualenv ``bench/.venv-evidently`` (created with pip
  on first use) and subprocess;
* whylogs 1.6.4: ``why.log`` profiles of both frames plus ``calculate_drift_scores``
  (drift where its category is DRIFT), in ``bench/.venv-whylogs`` (created on first use
  by ``bench/drift_accuracy.py``'s ``ensure_whylogs``).

It prints both timings and the drifted-column sets of mlspan, Evidently, exact effect
sizes on the raw data (W/sigma and Jensen-Shannon >= 0.1, Evidently's large-sample rule)
and exact two-sample tests on the raw data (KS / chi-square contingency, BH-corrected).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from scipy import stats

from mlspan.collector.drift.categorical import compare_categorical
from mlspan.collector.drift.decision import FeatureInput, adjust_p_values, judge_dataset
from mlspan.collector.drift.numerical import NumericalProfile, compare_numerical
from mlspan.collector.drift.results import ModelKey
from mlspan.collector.drift.summary_check import decode_summary
from mlspan.collector.drift.thresholds import DriftThresholds
from mlspan.collector.pdata import FastSchema, plain_attributes
from mlspan.instrumentation.options import InstrumentationOptions
from mlspan.instrumentation.summarize import Summarizer
from mlspan.semconv.events import FEATURE_SUMMARY
from mlspan.semconv.values import FeatureKind, FeatureOrigin
from mlspan.summaries import CategoricalSummary, FeatureSummary, NumericalSummary

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.support.spans import key_values  # noqa: E402

VENV = HERE / ".venv-evidently"
REQUIREMENTS = ("evidently==0.7.23", "pandas<3")
"""Evidently 0.7.23 imports a helper that pandas 3 removed."""

Frame = dict[str, np.ndarray]

EVIDENTLY_SCRIPT = r"""
import json, sys, time
import numpy as np, pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

data = np.load(sys.argv[1])
ref = pd.DataFrame({k[4:]: data[k] for k in data.files if k.startswith("ref_")})
cur = pd.DataFrame({k[4:]: data[k] for k in data.files if k.startswith("cur_")})
for frame in (ref, cur):
    for column in frame.columns:
        if frame[column].dtype.kind == "U":
            frame[column] = frame[column].astype(object)
repeats = int(sys.argv[2])
walls, cpus = [], []
for run in range(repeats + 1):  # run 0 warms up (imports, caches) untimed
    start, cpu = time.perf_counter(), time.process_time()
    snapshot = Report([DataDriftPreset()]).run(cur, ref)
    if run:
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
seconds, cpu_seconds = float(np.median(walls)), float(np.median(cpus))
result = snapshot.dict()
drifted, values = [], {}
for metric in result["metrics"]:
    config = metric["config"]
    if not config.get("type", "").endswith("ValueDrift"):
        continue
    method, threshold, value = config["method"], config["threshold"], metric["value"]
    is_distance = "distance" in method.lower() or "psi" in method.lower()
    hit = value >= threshold if is_distance else value < threshold
    values[config["column"]] = [method, value]
    if hit:
        drifted.append(config["column"])
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "drifted": sorted(drifted)}))
"""

WHYLOGS_SCRIPT = r"""
import json, sys, time
import numpy as np, pandas as pd
import whylogs as why
from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores

data = np.load(sys.argv[1])
ref = pd.DataFrame({k[4:]: data[k] for k in data.files if k.startswith("ref_")})
cur = pd.DataFrame({k[4:]: data[k] for k in data.files if k.startswith("cur_")})
for frame in (ref, cur):
    for column in frame.columns:
        if frame[column].dtype.kind == "U":
            frame[column] = frame[column].astype(object)
repeats = int(sys.argv[2])
walls, cpus, profile_walls = [], [], []
for run in range(repeats + 1):  # run 0 warms up untimed
    start, cpu = time.perf_counter(), time.process_time()
    ref_view, cur_view = why.log(ref).view(), why.log(cur).view()
    profiled = time.perf_counter()
    scores = calculate_drift_scores(
        target_view=cur_view, reference_view=ref_view, with_thresholds=True
    )
    if run:
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
        profile_walls.append(profiled - start)
drifted = sorted(c for c, s in scores.items() if s and s.get("drift_category") == "DRIFT")
print(json.dumps({
    "seconds": float(np.median(walls)), "cpu_seconds": float(np.median(cpus)),
    "profile_seconds": float(np.median(profile_walls)), "drifted": drifted,
}))
"""


def make_frames(rows: int, seed: int) -> tuple[Frame, Frame, list[str]]:
    """Reference and current columns, and the names of the materially shifted ones."""
    rng = np.random.default_rng(seed)

    def pair(draw: Any, shifted_draw: Any = None) -> tuple[np.ndarray, np.ndarray]:
        return draw(rng), (shifted_draw or draw)(rng)

    def bimodal(r: np.random.Generator) -> np.ndarray:
        return r.choice([-0.9, 0.9], rows) + r.normal(0, np.sqrt(1 - 0.81), rows)

    columns: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "n00_normal": pair(lambda r: r.normal(0, 1, rows)),
        "n01_mean_shift": pair(lambda r: r.normal(0, 1, rows), lambda r: r.normal(0.5, 1, rows)),
        "n02_normal_5_2": pair(lambda r: r.normal(5, 2, rows)),
        "n03_lognormal_scaled": pair(
            lambda r: r.lognormal(0, 0.6, rows), lambda r: 1.3 * r.lognormal(0, 0.6, rows)
        ),
        "n04_uniform": pair(lambda r: r.uniform(0, 10, rows)),
        "n05_exponential": pair(lambda r: r.exponential(2.0, rows)),
        "n06_variance_x2": pair(lambda r: r.normal(0, 1, rows), lambda r: r.normal(0, 1.5, rows)),
        "n07_bimodal": pair(lambda r: r.normal(0, 1, rows), bimodal),
        "n08_poisson": pair(lambda r: r.poisson(3, rows).astype(float)),
        "n09_tiny_shift": pair(lambda r: r.normal(0, 1, rows), lambda r: r.normal(0.03, 1, rows)),
        "n10_student_t": pair(lambda r: r.standard_t(3, rows)),
        "n11_offset_1e6": pair(lambda r: r.normal(1e6, 1, rows)),
        "n12_beta": pair(lambda r: r.beta(2, 5, rows)),
        "n13_gamma": pair(lambda r: r.gamma(2.0, 1.0, rows)),
        "n14_normal": pair(lambda r: r.normal(-3, 0.5, rows)),
    }
    levels = np.array(["a", "b", "c"])
    zipf = np.array([f"z{i:02d}" for i in range(20)])
    zipf_p = 1 / np.arange(1, 21)
    zipf_p /= zipf_p.sum()
    columns |= {
        "c0_three": pair(lambda r: r.choice(levels, rows, p=[0.5, 0.3, 0.2])),
        "c1_freq_shift": pair(
            lambda r: r.choice(levels, rows, p=[0.5, 0.3, 0.2]),
            lambda r: r.choice(levels, rows, p=[0.3, 0.3, 0.4]),
        ),
        "c2_zipf20": pair(lambda r: r.choice(zipf, rows, p=zipf_p)),
        "c3_new_level": pair(
            lambda r: r.choice(levels, rows, p=[0.5, 0.3, 0.2]),
            lambda r: r.choice(np.append(levels, "new"), rows, p=[0.4, 0.25, 0.2, 0.15]),
        ),
        "c4_binary": pair(lambda r: r.choice(np.array(["yes", "no"]), rows, p=[0.9, 0.1])),
    }
    shifted = [
        "n01_mean_shift",
        "n03_lognormal_scaled",
        "n06_variance_x2",
        "n07_bimodal",
        "c1_freq_shift",
        "c3_new_level",
    ]
    return {k: v[0] for k, v in columns.items()}, {k: v[1] for k, v in columns.items()}, shifted


def summarise(
    summarizer: Summarizer, frame: pd.DataFrame
) -> dict[str, NumericalSummary | CategoricalSummary]:
    """What the instrumentation computes per column of a predict call's frame."""
    return {s.name: s.stats for s in summarizer.summarize(frame, FeatureOrigin.INPUT, "")}


def mlspan_drift(
    reference: dict[str, NumericalSummary | CategoricalSummary],
    current: dict[str, NumericalSummary | CategoricalSummary],
) -> list[str]:
    """What the collector computes when a window closes: drifted column names."""
    limits = DriftThresholds()
    items = []
    for name, ref in reference.items():
        cur = current[name]
        if isinstance(ref, NumericalSummary) and isinstance(cur, NumericalSummary):
            comparison = compare_numerical(NumericalProfile.of(ref), NumericalProfile.of(cur))
        elif isinstance(ref, CategoricalSummary) and isinstance(cur, CategoricalSummary):
            comparison = compare_categorical(ref, cur)
        else:
            raise TypeError(name)
        items.append(FeatureInput(name, "input", comparison, limits))
    result = judge_dataset(ModelKey("bench", "model", "v1"), (0.0, 0.0), items, limits)
    return sorted(f.feature for f in result.features if f.drifted)


def exact_sets(reference: Frame, current: Frame) -> tuple[list[str], list[str]]:
    """Drifted columns by exact effect sizes, and by exact BH-corrected tests."""
    effect, names, p_values = [], [], []
    for name, ref in reference.items():
        cur = current[name]
        if ref.dtype.kind == "U":
            labels = np.union1d(ref, cur)
            a = np.array([np.count_nonzero(ref == c) for c in labels], dtype=float)
            b = np.array([np.count_nonzero(cur == c) for c in labels], dtype=float)
            p, q = a / a.sum(), b / b.sum()
            js = np.sqrt(stats.entropy(p, (p + q) / 2) / 2 + stats.entropy(q, (p + q) / 2) / 2)
            hit = js >= 0.1
            p_value = stats.chi2_contingency(np.vstack([a, b])).pvalue
        else:
            hit = stats.wasserstein_distance(ref, cur) / ref.std(ddof=1) >= 0.1
            p_value = stats.ks_2samp(ref, cur).pvalue
        if hit:
            effect.append(name)
        names.append(name)
        p_values.append(float(p_value))
    adjusted = adjust_p_values(p_values, "bh")
    tested = [n for n, p in zip(names, adjusted, strict=True) if p < 0.05]
    return sorted(effect), sorted(tested)


def ensure_evidently() -> Path:
    """The benchmark virtualenv's python, created with Evidently on first use."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV} and installing {' '.join(REQUIREMENTS)} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    check = subprocess.run(
        [str(python), "-c", "import evidently, pandas; print(evidently.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0 or check.stdout.strip() != "0.7.23":
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    return python


def run_external(
    python: Path, script: str, reference: Frame, current: Frame, repeats: int
) -> dict[str, Any]:
    """A peer's script in its own interpreter: one warm-up, then the median of
    ``repeats`` timed runs; loading the data is not timed."""
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "frames.npz"
        arrays = {f"ref_{k}": v for k, v in reference.items()}
        arrays |= {f"cur_{k}": v for k, v in current.items()}
        np.savez(data, **arrays)  # type: ignore[arg-type]
        done = subprocess.run(
            [str(python), "-c", script, str(data), str(repeats)],
            capture_output=True,
            text=True,
            check=True,
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def through_span_events(
    summaries: dict[str, NumericalSummary | CategoricalSummary], schema: FastSchema
) -> dict[str, NumericalSummary | CategoricalSummary]:
    """The summaries as the collector gets them: event attributes of one span in an OTLP
    request, serialized, parsed with the collector's schema and decoded with its checks."""
    events = [
        trace_pb2.Span.Event(
            name=FEATURE_SUMMARY,
            attributes=key_values(
                dict(
                    FeatureSummary(
                        name,
                        FeatureKind.NUMERICAL
                        if isinstance(stats, NumericalSummary)
                        else FeatureKind.CATEGORICAL,
                        FeatureOrigin.INPUT,
                        "",
                        stats,
                    ).to_attributes()
                )
            ),
        )
        for name, stats in summaries.items()
    ]
    request = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                scope_spans=[trace_pb2.ScopeSpans(spans=[trace_pb2.Span(events=events)])]
            )
        ]
    )
    parsed = schema.parse(request.SerializeToString())
    [span] = parsed.resource_spans[0].scope_spans[0].spans
    decoded = [decode_summary(plain_attributes(event.attributes)) for event in span.events]
    return {s.name: s.stats for s in decoded}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    reference, current, shifted = make_frames(args.rows, args.seed)
    python = ensure_evidently()
    from drift_accuracy import ensure_whylogs  # the one place its virtualenv is defined

    whylogs_python = ensure_whylogs()

    summarizer = Summarizer.from_options(InstrumentationOptions())
    schema = FastSchema.build()
    ref_frame, cur_frame = pd.DataFrame(reference), pd.DataFrame(current)
    summary_times, wire_times, drift_times, cpu_times = [], [], [], []
    drifted: list[str] = []
    for run in range(args.repeats + 1):  # run 0 warms up untimed
        start, cpu = time.perf_counter(), time.process_time()
        ref_summaries = summarise(summarizer, ref_frame)
        cur_summaries = summarise(summarizer, cur_frame)
        summarised = time.perf_counter()
        ref_summaries = through_span_events(ref_summaries, schema)
        cur_summaries = through_span_events(cur_summaries, schema)
        carried = time.perf_counter()
        drifted = mlspan_drift(ref_summaries, cur_summaries)
        end = time.perf_counter()
        if run:
            cpu_times.append(time.process_time() - cpu)
            summary_times.append(summarised - start)
            wire_times.append(carried - summarised)
            drift_times.append(end - carried)
    summary_s = statistics.median(summary_times)
    wire_s = statistics.median(wire_times)
    drift_s = statistics.median(drift_times)
    mlspan_s = summary_s + wire_s + drift_s
    mlspan_cpu = statistics.median(cpu_times)

    evidently = run_external(python, EVIDENTLY_SCRIPT, reference, current, args.repeats)
    whylogs = run_external(whylogs_python, WHYLOGS_SCRIPT, reference, current, args.repeats)
    effect, tested = exact_sets(reference, current)

    columns = len(reference)
    print(f"frames: {args.rows:,} rows x {columns} columns (15 numerical, 5 categorical)")
    print(f"materially shifted: {', '.join(shifted)}")
    print()
    print(f"timings: median of {args.repeats} runs after one warm-up, each tool")
    print(f"mlspan summaries (both frames)  {summary_s * 1e3:9.1f} ms")
    print(f"mlspan span events + decoding   {wire_s * 1e3:9.1f} ms")
    print(f"mlspan drift from summaries     {drift_s * 1e3:9.1f} ms")
    print(
        f"mlspan total                    {mlspan_s * 1e3:9.1f} ms   CPU {mlspan_cpu * 1e3:.1f} ms"
    )
    print(
        f"Evidently DataDriftPreset run() {evidently['seconds'] * 1e3:9.1f} ms"
        f"   CPU {evidently['cpu_seconds'] * 1e3:.1f} ms"
    )
    print(
        f"whylogs profiles + drift scores {whylogs['seconds'] * 1e3:9.1f} ms"
        f"   CPU {whylogs['cpu_seconds'] * 1e3:.1f} ms"
        f" (profiles {whylogs['profile_seconds'] * 1e3:.1f} ms)"
    )
    for peer, timing in (("Evidently", evidently), ("whylogs", whylogs)):
        print(
            f"{peer} / mlspan: total wall {timing['seconds'] / mlspan_s:6.1f} x, "
            f"total CPU {timing['cpu_seconds'] / mlspan_cpu:6.1f} x, "
            f"collector side (events + drift) {timing['seconds'] / (wire_s + drift_s):6.0f} x"
        )
    print()
    rows = [
        ("mlspan (summaries)", drifted),
        ("Evidently", evidently["drifted"]),
        ("whylogs", whylogs["drifted"]),
        ("exact W/sigma, JS >= 0.1", effect),
        ("exact KS / chi2, BH 5 %", tested),
    ]
    for label, names in rows:
        print(f"{label:<26} {len(names):2d}  {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
