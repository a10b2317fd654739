"""Drift from mlspan summaries against Evidently's DataDriftPreset, on the same frames.

    .venv/bin/python bench/drift_vs_evidently.py [--rows 100000] [--repeats 5]

Builds a 100k x 20 reference frame and a current frame (15 numerical, 5 categorical
columns; some shifted, one shifted by a practically irrelevant 0.03 sigma) and times, in
one run on the same data:

* mlspan: summarising both pandas frames with the instrumentation's ``Summarizer`` (what
  happens in the application) plus drift from the summaries (what the collector does
  when a window closes), median of ``--repeats`` (wall and CPU time: the machine is shared);
* Evidently 0.7.23 ``Report([DataDriftPreset()]).run(current, reference)``, in its own
  virtualenv ``bench/.venv-evidently`` (created with pip on first use) and subprocess.

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
from scipy import stats

from mlspan.collector.drift.categorical import compare_categorical
from mlspan.collector.drift.decision import FeatureInput, adjust_p_values, judge_dataset
from mlspan.collector.drift.numerical import NumericalProfile, compare_numerical
from mlspan.collector.drift.results import ModelKey
from mlspan.collector.drift.thresholds import DriftThresholds
from mlspan.instrumentation.options import InstrumentationOptions
from mlspan.instrumentation.summarize import Summarizer
from mlspan.semconv.values import FeatureOrigin
from mlspan.summaries import CategoricalSummary, NumericalSummary

HERE = Path(__file__).resolve().parent
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
start, cpu = time.perf_counter(), time.process_time()
snapshot = Report([DataDriftPreset()]).run(cur, ref)
result = snapshot.dict()
seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
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


def run_evidently(python: Path, reference: Frame, current: Frame) -> dict[str, Any]:
    """Evidently's DataDriftPreset in its own interpreter; time excludes loading data."""
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "frames.npz"
        arrays = {f"ref_{k}": v for k, v in reference.items()}
        arrays |= {f"cur_{k}": v for k, v in current.items()}
        np.savez(data, **arrays)  # type: ignore[arg-type]
        done = subprocess.run(
            [str(python), "-c", EVIDENTLY_SCRIPT, str(data)],
            capture_output=True,
            text=True,
            check=True,
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    reference, current, shifted = make_frames(args.rows, args.seed)
    python = ensure_evidently()

    summarizer = Summarizer.from_options(InstrumentationOptions())
    ref_frame, cur_frame = pd.DataFrame(reference), pd.DataFrame(current)
    summary_times, drift_times, cpu_times = [], [], []
    drifted: list[str] = []
    for _ in range(args.repeats):
        start, cpu = time.perf_counter(), time.process_time()
        ref_summaries = summarise(summarizer, ref_frame)
        cur_summaries = summarise(summarizer, cur_frame)
        middle = time.perf_counter()
        drifted = mlspan_drift(ref_summaries, cur_summaries)
        end = time.perf_counter()
        cpu_times.append(time.process_time() - cpu)
        summary_times.append(middle - start)
        drift_times.append(end - middle)
    summary_s = statistics.median(summary_times)
    drift_s = statistics.median(drift_times)
    mlspan_s = summary_s + drift_s
    mlspan_cpu = statistics.median(cpu_times)

    evidently = run_evidently(python, reference, current)
    effect, tested = exact_sets(reference, current)

    columns = len(reference)
    print(f"frames: {args.rows:,} rows x {columns} columns (15 numerical, 5 categorical)")
    print(f"materially shifted: {', '.join(shifted)}")
    print()
    print(f"mlspan summaries (both frames)  {summary_s * 1e3:9.1f} ms")
    print(f"mlspan drift from summaries     {drift_s * 1e3:9.1f} ms")
    print(f"mlspan total                    {mlspan_s * 1e3:9.1f} ms")
    print(f"Evidently DataDriftPreset       {evidently['seconds'] * 1e3:9.1f} ms")
    print(f"speed-up (total, wall)          {evidently['seconds'] / mlspan_s:9.0f} x")
    print(f"speed-up (total, CPU)           {evidently['cpu_seconds'] / mlspan_cpu:9.0f} x")
    evidently_cpu_ms = evidently["cpu_seconds"] * 1e3
    print(f"  CPU: mlspan {mlspan_cpu * 1e3:.1f} ms, Evidently {evidently_cpu_ms:.1f} ms")
    print(f"speed-up (collector-side drift) {evidently['seconds'] / drift_s:9.0f} x")
    print()
    rows = [
        ("mlspan (summaries)", drifted),
        ("Evidently", evidently["drifted"]),
        ("exact W/sigma, JS >= 0.1", effect),
        ("exact KS / chi2, BH 5 %", tested),
    ]
    for label, names in rows:
        print(f"{label:<26} {len(names):2d}  {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
