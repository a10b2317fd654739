"""Concept-drift detection delay and false alarms: mlspan's windowed detector vs river's ADWIN.

    .venv/bin/python bench/concept_drift.py [--trials 30] [--window 50 32] [--stationary 10]

Simulated labelled streams of a classifier's errors (1 = misclassified), the same rows
for both detectors:

* steps: the error rate steps from ``p0`` to ``p1`` after 10,000 labels (0.10 -> 0.20,
  0.05 -> 0.10, 0.10 -> 0.15, 0.20 -> 0.40, 0.30 -> 0.20), ``--trials`` streams each,
  10,000 labels after the change;
* gradual: 0.10 -> 0.20 linearly over 2,000 labels (delay counted from the ramp's start);
* no drift: ``--stationary`` streams of 1,000,000 labels each at 0.10 and at 0.30.

mlspan's ``ConceptDriftDetector`` (default ``ThresholdProfile``, every bar moved by
``--shift``) sees what the collector has, per window of ``--window`` labels (each size
given is a run of its own; 32 is ADWIN's own check interval) the count and the error
sum; it is asked after every window, and its delay runs to the end of the window it
alarms on. river 0.22's ``ADWIN()`` (defaults, delta 0.002, a check every 32
rows) sees every row, in its own virtualenv ``bench/.venv-river`` (created with pip on
first use), two subprocesses running beside the windowed detector. False alarms are
alarms before a step and every alarm of a stationary stream, per 1e6 labels of
stationary data, reported for the pre-change parts (the first 10,000 labels of each
step stream), the long stationary streams and both together; delays are the median
and 90th percentile over the trials that detected.
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

from mlspan.collector.performance.concept import ConceptDriftDetector
from mlspan.collector.performance.concept_thresholds import ThresholdProfile

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


class RiverAlarms:
    """ADWIN's alarm positions (labels seen when it alarmed) on each stream, computed by
    ``processes`` subprocesses started at once and collected by ``result``."""

    def __init__(
        self, python: Path, streams: list[npt.NDArray[np.uint8]], processes: int = 2
    ) -> None:
        self._folder = tempfile.TemporaryDirectory()
        self._parts: list[tuple[list[int], subprocess.Popen[str]]] = []
        for part in range(processes):
            chosen = list(range(part, len(streams), processes))
            data = Path(self._folder.name) / f"streams{part}.npz"
            np.savez(data, **{f"s{i}": streams[i] for i in chosen})  # type: ignore[arg-type]
            command = [str(python), "-c", RIVER_SCRIPT, str(data)]
            child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            self._parts.append((chosen, child))
        self._count = len(streams)

    def result(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in range(self._count)]
        for chosen, child in self._parts:
            stdout, _ = child.communicate()
            if child.returncode != 0:
                raise RuntimeError(f"river subprocess failed ({child.returncode})")
            hits: list[list[int]] = json.loads(stdout.strip().splitlines()[-1])
            for index, found in zip(chosen, hits, strict=True):
                out[index] = found
        self._folder.cleanup()
        return out


def mlspan_alarms(
    stream: npt.NDArray[np.uint8], window: int, profile: ThresholdProfile, change: int
) -> tuple[list[int], float]:
    """The windowed detector's alarm positions (labels up to the end of the window) and
    the sum of its per-look false-alarm bounds over the looks before ``change`` (all
    looks of a stationary stream, ``change`` < 0)."""
    detector = ConceptDriftDetector(profile=profile)
    counts = np.add.reduceat(stream.astype(np.int64), np.arange(0, stream.size, window))
    hits = []
    bound = 0.0
    for i, errors in enumerate(counts.tolist()):
        end = min((i + 1) * window, stream.size)
        size = end - i * window
        if detector.update(i * 3600.0, size, float(errors)).drift:
            hits.append(end)
        if change < 0 or end <= change:
            bound += detector.last_look_bound
    return hits, bound


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
) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[int, int]]]:
    """Per scenario: detections and delays; false alarms and stationary labels of the
    pre-change parts and of the long stationary streams."""
    table: dict[str, dict[str, Any]] = {}
    false = {"pre-change parts": (0, 0), "stationary streams": (0, 0)}
    for (name, change, stream), hits in zip(scenarios, alarms, strict=True):
        row = table.setdefault(name, {"streams": 0, "detected": 0, "delays": []})
        row["streams"] += 1
        stable = stream.size if change < 0 else change
        part = "stationary streams" if change < 0 else "pre-change parts"
        count, labels = false[part]
        false[part] = (count + sum(1 for h in hits if h <= stable), labels + stable)
        if change >= 0:
            after = [h - change for h in hits if h > change]
            if after:
                row["detected"] += 1
                row["delays"].append(after[0])
    return table, false


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--window", type=int, nargs="+", default=[50, 32])
    parser.add_argument("--stationary", type=int, default=10)
    parser.add_argument("--shift", type=float, default=0.0, help="move every bar by this")
    args = parser.parse_args()
    rng = np.random.default_rng(20261207)
    scenarios = streams(rng, args.trials, args.stationary)
    python = ensure_river()
    river = RiverAlarms(python, [s for _, _, s in scenarios])
    profile = ThresholdProfile().shifted(args.shift)
    print(profile)
    mine: dict[int, list[list[int]]] = {}
    bounds: dict[int, float] = {}
    for window in args.window:
        runs = [mlspan_alarms(s, window, profile, change) for _, change, s in scenarios]
        mine[window] = [hits for hits, _ in runs]
        bounds[window] = sum(bound for _, bound in runs)
    adwin = score(scenarios, river.result())
    for window in args.window:
        results = {f"mlspan/{window}": score(scenarios, mine[window]), "ADWIN": adwin}
        report(scenarios, results)
        print(
            f"mlspan/{window}: Bonferroni bound over its stationary looks: "
            f"{bounds[window]:.3g} alarms"
        )


def report(
    scenarios: list[tuple[str, int, npt.NDArray[np.uint8]]],
    results: dict[str, tuple[dict[str, dict[str, Any]], dict[str, tuple[int, int]]]],
) -> None:
    """Print delays per scenario and false alarms of each detector."""
    print(f"{'scenario':34} {'detector':10} {'detected':>9} {'median delay':>13} {'p90 delay':>10}")
    names = list(dict.fromkeys(name for name, change, _ in scenarios if change >= 0))
    for name in names:
        for label, (table, _) in results.items():
            row = table[name]
            delays = row["delays"]
            median = f"{np.median(delays):.0f}" if delays else "-"
            p90 = f"{np.percentile(delays, 90):.0f}" if delays else "-"
            detected = f"{row['detected']}/{row['streams']}"
            print(f"{name:34} {label:10} {detected:>9} {median:>13} {p90:>10}")
    for label, (_, false) in results.items():
        parts = [f"{part} {count} in {labels:,}" for part, (count, labels) in false.items()]
        count = sum(c for c, _ in false.values())
        labels = sum(n for _, n in false.values())
        print(
            f"false alarms, {label}: {'; '.join(parts)}; "
            f"{count * 1e6 / labels:.3f} per 1e6 stationary labels"
        )


if __name__ == "__main__":
    main()
