"""Concept-drift detection delay and false alarms: mlspan's windowed detector vs river's ADWIN.

    .venv/bin/python bench/concept_drift.py [--trials 30] [--window 50] [--stationary 3]

Simulated labelled streams of a classifier's errors (1 = misclassified), the same rows
for both detectors:

* steps: the error rate steps from ``p0`` to ``p1`` after 10,000 labels (0.10 -> 0.20,
  0.05 -> 0.10, 0.10 -> 0.15, 0.20 -> 0.40, 0.30 -> 0.20), ``--trials`` streams each,
  10,000 labels after the change;
* gradual: 0.10 -> 0.20 linearly over 2,000 labels (delay counted from the ramp's start);
* no drift: ``--stationary`` streams of 1,000,000 labels each at 0.10 and at 0.30.

mlspan's ``ConceptDriftDetector`` sees what the collector has, per window of
``--window`` labels the count and the error sum; it is asked after every window, and its
delay runs to the end of the window it alarms on. river 0.22's ``ADWIN()`` (defaults,
delta 0.002) sees every row, in its own virtualenv ``bench/.venv-river`` (created with
pip on first use) and subprocess. False alarms are alarms before a step and every alarm
of a stationary stream, per 1e6 labels of stationary data (the pre-change parts
included); delays are the median and 90th percentile over the trials that detected.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import venv
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mlspan.collector.performance.concept import DEFAULT_ALPHA, ConceptDriftDetector

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-river"
REQUIREMENTS = ("river==0.22.0",)
CHANGE = 10_000
AFTER = 10_000
STEPS = ((0.10, 0.20), (0.05, 0.10), (0.10, 0.15), (0.20, 0.40), (0.30, 0.20))
RAMP = 2_000
STATIONARY_ROWS = 1_000_000

RIVER_SCRIPT = """
import json, sys
import numpy as np
from river.drift import ADWIN
data = np.load(sys.argv[1])
out = []
for name in sorted(data.files, key=lambda n: int(n[1:])):
    detector = ADWIN()
    hits = []
    for i, x in enumerate(data[name].tolist()):
        detector.update(x)
        if detector.drift_detected:
            hits.append(i + 1)
    out.append(hits)
print(json.dumps(out))
"""


def ensure_river() -> Path:
    """The benchmark virtualenv's python, created with river on first use."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV} and installing {' '.join(REQUIREMENTS)} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    check = subprocess.run(
        [str(python), "-c", "import river; print(river.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0 or check.stdout.strip() != "0.22.0":
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    return python


def river_alarms(python: Path, streams: list[npt.NDArray[np.uint8]]) -> list[list[int]]:
    """ADWIN's alarm positions (labels seen when it alarmed) on each stream."""
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "streams.npz"
        np.savez(data, **{f"s{i}": s for i, s in enumerate(streams)})  # type: ignore[arg-type]
        done = subprocess.run(
            [str(python), "-c", RIVER_SCRIPT, str(data)],
            capture_output=True,
            text=True,
            check=True,
        )
    result: list[list[int]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def mlspan_alarms(stream: npt.NDArray[np.uint8], window: int, alpha: float) -> list[int]:
    """The windowed detector's alarm positions (labels up to the end of the window)."""
    detector = ConceptDriftDetector(alpha=alpha)
    counts = np.add.reduceat(stream.astype(np.int64), np.arange(0, stream.size, window))
    hits = []
    for i, errors in enumerate(counts.tolist()):
        end = min((i + 1) * window, stream.size)
        size = end - i * window
        if detector.update(i * 3600.0, size, float(errors)).drift:
            hits.append(end)
    return hits


def streams(
    rng: np.random.Generator, trials: int, stationary: int
) -> list[tuple[str, int, npt.NDArray[np.uint8]]]:
    """``(scenario, change position or -1, error stream)`` for every scenario."""
    out: list[tuple[str, int, npt.NDArray[np.uint8]]] = []
    for p0, p1 in STEPS:
        rates = np.r_[np.full(CHANGE, p0), np.full(AFTER, p1)]
        out += [(f"step {p0:.2f} -> {p1:.2f}", CHANGE, draw(rng, rates)) for _ in range(trials)]
    ramp = np.r_[np.full(CHANGE, 0.1), np.linspace(0.1, 0.2, RAMP), np.full(AFTER - RAMP, 0.2)]
    out += [("gradual 0.10 -> 0.20 over 2,000", CHANGE, draw(rng, ramp)) for _ in range(trials)]
    for p in (0.1, 0.3):
        rates = np.full(STATIONARY_ROWS, p)
        out += [(f"no drift {p:.2f}", -1, draw(rng, rates)) for _ in range(stationary)]
    return out


def draw(rng: np.random.Generator, rates: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    return (rng.random(rates.size) < rates).astype(np.uint8)


def score(
    scenarios: list[tuple[str, int, npt.NDArray[np.uint8]]], alarms: list[list[int]]
) -> tuple[dict[str, dict[str, Any]], float]:
    """Per scenario: detections and delays; overall: false alarms per 1e6 stationary labels."""
    table: dict[str, dict[str, Any]] = {}
    false_alarms = 0
    stationary_labels = 0
    for (name, change, stream), hits in zip(scenarios, alarms, strict=True):
        row = table.setdefault(name, {"streams": 0, "detected": 0, "delays": []})
        row["streams"] += 1
        stable = stream.size if change < 0 else change
        stationary_labels += stable
        false_alarms += sum(1 for h in hits if h <= stable)
        if change >= 0:
            after = [h - change for h in hits if h > change]
            if after:
                row["detected"] += 1
                row["delays"].append(after[0])
    return table, false_alarms * 1e6 / stationary_labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--window", type=int, default=50)
    parser.add_argument("--stationary", type=int, default=3)
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA)
    args = parser.parse_args()
    rng = np.random.default_rng(20261207)
    scenarios = streams(rng, args.trials, args.stationary)
    python = ensure_river()
    adwin = river_alarms(python, [s for _, _, s in scenarios])
    mine = [mlspan_alarms(s, args.window, args.alpha) for _, _, s in scenarios]
    bound = args.alpha * 1e6 / args.window
    print(
        f"window {args.window} labels, alpha {args.alpha:g} per look "
        f"(false-alarm bound {bound:.3g} per 1e6 labels)"
    )
    print(f"{'scenario':34} {'detector':8} {'detected':>9} {'median delay':>13} {'p90 delay':>10}")
    results = {"mlspan": score(scenarios, mine), "ADWIN": score(scenarios, adwin)}
    names = list(dict.fromkeys(name for name, change, _ in scenarios if change >= 0))
    for name in names:
        for label, (table, _) in results.items():
            row = table[name]
            delays = row["delays"]
            median = f"{np.median(delays):.0f}" if delays else "-"
            p90 = f"{np.percentile(delays, 90):.0f}" if delays else "-"
            detected = f"{row['detected']}/{row['streams']}"
            print(f"{name:34} {label:8} {detected:>9} {median:>13} {p90:>10}")
    for label, (_, rate) in results.items():
        print(f"false alarms per 1e6 stationary labels, {label}: {rate:.2f}")


if __name__ == "__main__":
    main()
