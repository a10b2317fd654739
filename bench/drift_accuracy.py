"""Drift decisions against ground truth: mlspan, Evidently and whylogs on the same pairs.

    .venv/bin/python bench/drift_accuracy.py [--sizes 2000,50000,1000000] [--seeds 3]
        [--big-seeds 1]

The pairs are the accuracy suite's (``tests/collector/drift/truth_pairs.py``): numerical
location, scale, shape with equal moments, heavier tails, values near 1e9; categorical
share shifts, a new level, 3,000 levels; identical and immaterially shifted pairs, each
with its known answer. For every size and seed (``--big-seeds`` at 1e6 rows) one frame
holds every case, and it is judged by:

* mlspan: the instrumentation's ``Summarizer`` on both frames, the span-event wire format,
  the engine's ``analyze`` with the default rule (significant and material), and with
  the ``evidently`` preset (Evidently's defaults reproduced from summaries);
* Evidently 0.7.23 ``Report([DataDriftPreset()])`` on the raw frames, in
  ``bench/.venv-evidently`` (the mechanism of ``drift_vs_evidently.py``);
* whylogs 1.6.4 profiles and ``calculate_drift_scores`` (KS / chi-square on its sketches,
  drift when its category is DRIFT), in ``bench/.venv-whylogs``.

It prints each method's confusion table against the truth, false alarms on identical
pairs, detections per case, and the error of mlspan's KS D from summaries against
scipy's exact statistic on the raw data.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import venv
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drift_vs_evidently import ensure_evidently  # noqa: E402

from mlspan.collector.drift.thresholds import DriftThresholds  # noqa: E402
from tests.collector.drift.truth_pairs import BY_NAME, CASES, frames, judge, summarise  # noqa: E402

WHYLOGS_VENV = ROOT / "bench" / ".venv-whylogs"
WHYLOGS_REQUIREMENTS = ("whylogs==1.6.4", "pandas<3", "scipy", "ipython")
"""whylogs' drift scores live in ``whylogs.viz``, which imports IPython and scipy."""

LOAD_FRAMES = r"""
import json, sys, time
import numpy as np, pandas as pd

def frames(path):
    data = np.load(path)
    ref = pd.DataFrame({k[4:]: data[k] for k in data.files if k.startswith("ref_")})
    cur = pd.DataFrame({k[4:]: data[k] for k in data.files if k.startswith("cur_")})
    for frame in (ref, cur):
        for column in frame.columns:
            if frame[column].dtype.kind == "U":
                frame[column] = frame[column].astype(object)
    return ref, cur
"""

EVIDENTLY_SCRIPT = (
    LOAD_FRAMES
    + r"""
from evidently import Report
from evidently.presets import DataDriftPreset

for path in sys.argv[1:]:
    ref, cur = frames(path)
    start = time.perf_counter()
    result = Report([DataDriftPreset()]).run(cur, ref).dict()
    seconds = time.perf_counter() - start
    drifted = []
    for metric in result["metrics"]:
        config = metric["config"]
        if not config.get("type", "").endswith("ValueDrift"):
            continue
        method, threshold, value = config["method"], config["threshold"], metric["value"]
        is_distance = "distance" in method.lower() or "psi" in method.lower()
        if (value >= threshold) if is_distance else (value < threshold):
            drifted.append(config["column"])
    print(json.dumps({"path": path, "seconds": seconds, "drifted": drifted}), flush=True)
"""
)

WHYLOGS_SCRIPT = (
    LOAD_FRAMES
    + r"""
import whylogs as why
from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores

for path in sys.argv[1:]:
    ref, cur = frames(path)
    start = time.perf_counter()
    scores = calculate_drift_scores(
        target_view=why.log(cur).view(), reference_view=why.log(ref).view(), with_thresholds=True
    )
    seconds = time.perf_counter() - start
    drifted = [c for c, s in scores.items() if s and s.get("drift_category") == "DRIFT"]
    print(json.dumps({"path": path, "seconds": seconds, "drifted": drifted}), flush=True)
"""
)

Decisions = dict[str, set[str]]
"""Frame label -> drifted case names."""


def ensure_whylogs() -> Path:
    """The whylogs virtualenv's python, created on first use."""
    python = WHYLOGS_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {WHYLOGS_VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(WHYLOGS_VENV)
    check = subprocess.run(
        [str(python), "-c", "import whylogs.viz.drift.column_drift_algorithms, IPython"],
        capture_output=True,
        check=False,
    )
    if check.returncode != 0:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *WHYLOGS_REQUIREMENTS], check=True
        )
    return python


def run_external(python: Path, script: str, paths: dict[str, Path]) -> tuple[Decisions, float]:
    """Decisions of ``script`` on every saved frame, and its total seconds."""
    done = subprocess.run(
        [str(python), "-c", script, *(str(p) for p in paths.values())],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{python}: {done.stderr[-2000:]}")
    label_of = {str(p): label for label, p in paths.items()}
    decisions: Decisions = {}
    seconds = 0.0
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            decisions[label_of[row["path"]]] = set(row["drifted"])
            seconds += row["seconds"]
    return decisions, seconds


def plain(column: Any) -> np.ndarray:
    """A column as an array np.load reads without pickle (strings as fixed-width text)."""
    values = column.to_numpy()
    return values.astype(str) if values.dtype == object else values


def confusion(decisions: Decisions) -> dict[str, int]:
    """TP, FN, FP, TN over every frame and case."""
    counts = {"tp": 0, "fn": 0, "fp": 0, "tn": 0}
    for drifted in decisions.values():
        for case in CASES:
            hit = case.name in drifted
            key = ("tp" if hit else "fn") if case.drifted else ("fp" if hit else "tn")
            counts[key] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000,50000,1000000")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--big-seeds", type=int, default=1, help="seeds at 1e6 rows and more")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    evidently_python, whylogs_python = ensure_evidently(), ensure_whylogs()
    presets = {
        "mlspan": DriftThresholds(),
        "mlspan evidently preset": DriftThresholds(preset="evidently"),
    }
    ours: dict[str, Decisions] = {name: {} for name in presets}
    mlspan_seconds: dict[int, list[float]] = defaultdict(list)
    ks_errors: dict[int, list[float]] = defaultdict(list)
    external: dict[str, Decisions] = {"Evidently DataDriftPreset": {}, "whylogs": {}}
    external_seconds: dict[str, float] = defaultdict(float)
    with tempfile.TemporaryDirectory() as folder:
        for rows in sizes:
            paths: dict[str, Path] = {}
            for seed in range(1, 1 + (args.seeds if rows < 1_000_000 else args.big_seeds)):
                label = f"{rows}/{seed}"
                reference, current = frames(rows, seed)
                start = time.process_time()
                ref_summaries, cur_summaries = summarise(reference), summarise(current)
                for name, limits in presets.items():
                    result = judge(ref_summaries, cur_summaries, limits)
                    ours[name][label] = {f.feature for f in result.features if f.drifted}
                    if name == "mlspan":
                        mlspan_seconds[rows].append(time.process_time() - start)
                        ks = {
                            f.feature: m.value
                            for f in result.features
                            for m in f.metrics
                            if m.name == "ks"
                        }
                for case in CASES:
                    if case.kind == "numerical":
                        exact = stats.ks_2samp(reference[case.name], current[case.name]).statistic
                        ks_errors[rows].append(abs(ks[case.name] - float(exact)))
                path = Path(folder) / f"{rows}_{seed}.npz"
                arrays: dict[str, Any] = {f"ref_{k}": plain(reference[k]) for k in reference}
                arrays |= {f"cur_{k}": plain(current[k]) for k in current}
                np.savez(path, **arrays)
                paths[label] = path
                print(f"  {label}: mlspan {mlspan_seconds[rows][-1]:.2f} s CPU", flush=True)
            for name, python, script in (
                ("Evidently DataDriftPreset", evidently_python, EVIDENTLY_SCRIPT),
                ("whylogs", whylogs_python, WHYLOGS_SCRIPT),
            ):
                decisions, seconds = run_external(python, script, paths)
                external[name] |= decisions
                external_seconds[name] += seconds
                print(f"  {rows} rows: {name} {seconds:.1f} s", flush=True)
            for path in paths.values():
                path.unlink()
    report(sizes, ours | external, ks_errors)
    return 0


def report(
    sizes: list[int], methods: dict[str, Decisions], ks_errors: dict[int, list[float]]
) -> None:
    """The confusion tables, false alarms, detections per case and KS D errors."""
    frames_run = sorted(next(iter(methods.values())), key=lambda s: tuple(map(int, s.split("/"))))
    drifted_cases = sum(c.drifted for c in CASES)
    listed = ", ".join(frames_run)
    print(f"\n{len(CASES)} cases ({drifted_cases} drifted) x {len(frames_run)} frames: {listed}\n")
    print(
        f"{'method':<28} {'TP':>4} {'FN':>4} {'FP':>4} {'TN':>4} {'agree':>7}  false alarms by size"
    )
    for name, decisions in methods.items():
        counts = confusion(decisions)
        agree = (counts["tp"] + counts["tn"]) / sum(counts.values())
        alarms = []
        for rows in sizes:
            at = {k: v for k, v in decisions.items() if k.startswith(f"{rows}/")}
            fp = confusion(at)["fp"]
            same = sum(name in d for d in at.values() for name in BY_NAME if "_same_" in name)
            alarms.append(f"{rows:,}: {fp} ({same} identical)")
        print(
            f"{name:<28} {counts['tp']:>4} {counts['fn']:>4} {counts['fp']:>4} {counts['tn']:>4}"
            f" {agree:>6.1%}  {'; '.join(alarms)}"
        )
    print("\ndetections per case (frames flagged / frames)")
    short = {
        name: name.split()[0] if name != "mlspan evidently preset" else "preset" for name in methods
    }
    print(f"{'case':<18} {'truth':<6} " + " ".join(f"{short[n]:>9}" for n in methods) + "  what")
    for case in CASES:
        cells = [
            f"{sum(case.name in d for d in methods[n].values())}/{len(methods[n])}" for n in methods
        ]
        truth = "drift" if case.drifted else "same"
        print(
            f"{case.name:<18} {truth:<6} " + " ".join(f"{c:>9}" for c in cells) + f"  {case.what}"
        )
    print("\nmlspan KS D from summaries vs scipy's exact D (numerical cases)")
    for rows in sizes:
        errors = np.asarray(ks_errors[rows])
        median, largest = np.median(errors), errors.max()
        print(f"  {rows:>9,} rows: median {median:.4f}, max {largest:.4f} ({errors.size} pairs)")


if __name__ == "__main__":
    sys.exit(main())
