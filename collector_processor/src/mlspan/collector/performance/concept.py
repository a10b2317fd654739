"""Concept drift: has a model's error rate changed on the labelled stream?

The collector never sees per-row outcomes, only, per model version and prediction-time
window, how many labelled predictions there were and what their errors add up to (the
confusion matrix's off-diagonal for a classifier, the absolute and squared error sums
for a regressor). ``ConceptDriftDetector`` works on exactly that, in the spirit of ADWIN
run on windows instead of rows: it keeps the recent windows in order of prediction time
and, each time a window is updated (a *look*), compares the most recent ``r`` windows
with everything before them for a fixed, geometric set of ``r`` (1, 2, 3, 4, 6, 8, ...).

The test of one split is the signed square root of the binomial likelihood-ratio
statistic for a classifier's error rate (much closer to normal in the tails than the
Wald z of a two-proportion test when errors are few), and Welch's z on the mean absolute
error for a regressor (its variance comes from the squared-error sum). A split alarms
when the statistic exceeds the two-sided normal quantile at ``alpha / (2 * splits)``:
with the Bonferroni correction over the splits tested, the probability that one look on
a stationary stream raises a false alarm is at most ``alpha`` (up to the normal
approximation, kept honest by ``min_labels`` per side), so a stream cut into windows of
``w`` labels sees at most ``alpha * 1e6 / w`` false alarms per million labelled
predictions. Successive looks share most of their data, so the realised rate is far
below that bound (``bench/concept_drift.py`` measures both).

After an alarm the windows before the change are dropped, as ADWIN drops its old
sub-window: the detector then watches the new regime. Its state is a bounded list of
windows (``max_windows``; the oldest are merged pairwise past it) and persists with
``to_dict`` / ``from_dict``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from statistics import NormalDist
from typing import Any, Final

from mlspan.semconv.values import PerformanceTask
from mlspan.summaries.performance import PerformanceSummary

DEFAULT_ALPHA: Final = 1e-5
"""Default bound on the false-alarm probability of one look at a stationary stream."""
DEFAULT_MIN_LABELS: Final = 100
"""Labels each side of a split needs before it is tested."""
DEFAULT_MAX_WINDOWS: Final = 256
"""Windows kept; the oldest are merged past it."""
_STATE_VERSION: Final = 1


def recent_sizes(max_windows: int) -> tuple[int, ...]:
    """The numbers of most recent windows compared with the rest: 1, 2, 3, 4, 6, 8, 11,
    16, 23, ... (about sqrt(2) apart), below ``max_windows``."""
    sizes: list[int] = []
    size = 1.0
    while round(size) < max_windows:
        if not sizes or round(size) > sizes[-1]:
            sizes.append(round(size))
        size *= math.sqrt(2.0)
    return tuple(sizes)


@dataclass(frozen=True)
class WindowErrors:
    """What one prediction-time window's labelled predictions add up to.

    ``errors`` sums the per-row error (1 for a misclassified row, the absolute error for
    a regressor) and ``squares`` its square (equal to ``errors`` for a classifier).
    """

    start: float
    count: int
    errors: float
    squares: float


def errors_of(summary: PerformanceSummary) -> tuple[int, float, float]:
    """``(labelled predictions, error sum, squared-error sum)`` of a performance summary:
    the off-diagonal of a classifier's confusion matrix, a regressor's absolute and
    squared error sums."""
    if summary.task is PerformanceTask.REGRESSOR:
        sums = summary.regression
        if sums is None:
            return 0, 0.0, 0.0
        return sums.count, sums.sum_abs_error, sums.sum_sq_error
    matrix = summary.matrix()
    count = int(matrix.sum())
    wrong = float(count - int(matrix.trace()))
    return count, wrong, wrong


@dataclass(frozen=True)
class ConceptDriftDecision:
    """The outcome of one look: whether the error changed, from when and by how much.

    ``before`` and ``after`` are the error rates (classifier) or mean absolute errors
    (regressor) of the windows before the change and from ``since`` (the start of the
    first window after it, Unix seconds) on; ``statistic`` is the standardised
    difference of the strongest split and ``threshold`` the bound it had to pass. With
    no drift, the fields describe the strongest split tested (``since`` is None when no
    split had enough labels).
    """

    drift: bool
    task: PerformanceTask
    before: float
    after: float
    since: float | None
    labels_before: int
    labels_after: int
    statistic: float
    threshold: float

    @property
    def increased(self) -> bool:
        """True when the error went up (the model got worse)."""
        return self.after > self.before

    @property
    def insight(self) -> str:
        """One line naming what changed, e.g. ``error rate 10.2 % -> 19.8 % from window
        2026-12-07T10:00 (5,000 labels before, 400 after)``."""
        if self.since is None:
            return "not enough labelled predictions to test for concept drift"
        if self.task is PerformanceTask.REGRESSOR:
            what = f"mean absolute error {self.before:.4g} -> {self.after:.4g}"
        else:
            what = f"error rate {100 * self.before:.1f} % -> {100 * self.after:.1f} %"
        when = datetime.fromtimestamp(self.since, UTC).strftime("%Y-%m-%dT%H:%M")
        counts = f"{self.labels_before:,} labels before, {self.labels_after:,} after"
        verdict = "" if self.drift else "no significant change; strongest split: "
        return f"{verdict}{what} from window {when} ({counts})"


class ConceptDriftDetector:
    """A change detector on one model version's windowed error stream.

    ``update(start, count, errors, squares)`` adds labelled predictions to the window
    starting at ``start`` (late labels for an earlier window add to it) and tests;
    ``update_summary(start, summary)`` does the same from a ``PerformanceSummary``.
    Labels for windows before the last detected change are ignored (they belong to the
    old regime). The counts are increments: call it once per performance span as it
    arrives (each span carries the labels joined in one flush), not with a window's
    merged totals.
    """

    def __init__(
        self,
        task: PerformanceTask = PerformanceTask.CLASSIFIER,
        *,
        alpha: float = DEFAULT_ALPHA,
        min_labels: int = DEFAULT_MIN_LABELS,
        max_windows: int = DEFAULT_MAX_WINDOWS,
    ) -> None:
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha {alpha} is not in (0, 1)")
        if min_labels < 1 or max_windows < 2:
            raise ValueError("min_labels must be >= 1 and max_windows >= 2")
        self.task = task
        self.alpha = alpha
        self.min_labels = min_labels
        self.max_windows = max_windows
        self.sizes = recent_sizes(max_windows)
        self.threshold = NormalDist().inv_cdf(1.0 - alpha / (2 * len(self.sizes)))
        self.windows: list[WindowErrors] = []
        self.floor: float | None = None
        self.looks = 0
        self.alarms = 0

    def update_summary(self, start: float, summary: PerformanceSummary) -> ConceptDriftDecision:
        """``update`` with the counts of a performance summary of the window at ``start``."""
        return self.update(start, *errors_of(summary))

    def update(
        self, start: float, count: int, errors: float, squares: float | None = None
    ) -> ConceptDriftDecision:
        """Add ``count`` labelled predictions with these error sums to the window at
        ``start`` (Unix seconds) and test for a change."""
        squared = errors if squares is None else squares
        if count < 0 or not (0 <= errors < math.inf and 0 <= squared < math.inf):
            raise ValueError("count and error sums must be finite and non-negative")
        if count and (self.floor is None or start >= self.floor):
            self._add(WindowErrors(float(start), int(count), float(errors), float(squared)))
        return self.test()

    def _add(self, window: WindowErrors) -> None:
        windows = self.windows
        index = len(windows)
        while index and windows[index - 1].start > window.start:
            index -= 1
        if index and windows[index - 1].start == window.start:
            old = windows[index - 1]
            windows[index - 1] = WindowErrors(
                old.start,
                old.count + window.count,
                old.errors + window.errors,
                old.squares + window.squares,
            )
        else:
            windows.insert(index, window)
        while len(windows) > self.max_windows:
            first, second = windows[0], windows[1]
            windows[:2] = [
                WindowErrors(
                    first.start,
                    first.count + second.count,
                    first.errors + second.errors,
                    first.squares + second.squares,
                )
            ]

    def test(self) -> ConceptDriftDecision:
        """One look: the strongest split of the recent windows against the older ones."""
        self.looks += 1
        windows = self.windows
        best: ConceptDriftDecision | None = None
        total_n = sum(w.count for w in windows)
        total_e = sum(w.errors for w in windows)
        total_s = sum(w.squares for w in windows)
        right_n, right_e, right_s = 0, 0.0, 0.0
        taken = 0
        for size in self.sizes:
            if size >= len(windows):
                break
            while taken < size:
                window = windows[len(windows) - 1 - taken]
                right_n += window.count
                right_e += window.errors
                right_s += window.squares
                taken += 1
            left_n = total_n - right_n
            if right_n < self.min_labels or left_n < self.min_labels:
                continue
            left_e, left_s = total_e - right_e, total_s - right_s
            statistic = self._statistic(left_n, left_e, left_s, right_n, right_e, right_s)
            if best is None or abs(statistic) > abs(best.statistic):
                best = ConceptDriftDecision(
                    drift=abs(statistic) > self.threshold,
                    task=self.task,
                    before=left_e / left_n,
                    after=right_e / right_n,
                    since=windows[len(windows) - size].start,
                    labels_before=left_n,
                    labels_after=right_n,
                    statistic=statistic,
                    threshold=self.threshold,
                )
        if best is None:
            return ConceptDriftDecision(
                False, self.task, math.nan, math.nan, None, 0, 0, 0.0, self.threshold
            )
        if best.drift:
            self.alarms += 1
            best = self._locate(best)
            since = best.since
            self.windows = [w for w in windows if since is not None and w.start >= since]
            self.floor = since
        return best

    def _locate(self, alarm: ConceptDriftDecision) -> ConceptDriftDecision:
        """The alarm with the change placed at the strongest split over every window
        boundary (in the alarm's direction), not only the tested geometric ones: the
        decision stays the tested one, only when and how much get sharper."""
        windows = self.windows
        best = alarm
        total_n = sum(w.count for w in windows)
        total_e = sum(w.errors for w in windows)
        total_s = sum(w.squares for w in windows)
        right_n, right_e, right_s = 0, 0.0, 0.0
        for size in range(1, len(windows)):
            window = windows[len(windows) - size]
            right_n += window.count
            right_e += window.errors
            right_s += window.squares
            left_n = total_n - right_n
            if right_n < self.min_labels or left_n < self.min_labels:
                continue
            left_e, left_s = total_e - right_e, total_s - right_s
            statistic = self._statistic(left_n, left_e, left_s, right_n, right_e, right_s)
            if statistic * alarm.statistic > 0 and abs(statistic) > abs(best.statistic):
                best = replace(
                    alarm,
                    before=left_e / left_n,
                    after=right_e / right_n,
                    since=window.start,
                    labels_before=left_n,
                    labels_after=right_n,
                    statistic=statistic,
                )
        return best

    def _statistic(self, n1: int, e1: float, s1: float, n2: int, e2: float, s2: float) -> float:
        if self.task is PerformanceTask.REGRESSOR:
            mean1, mean2 = e1 / n1, e2 / n2
            var1 = max(s1 / n1 - mean1 * mean1, 0.0)
            var2 = max(s2 / n2 - mean2 * mean2, 0.0)
            spread = math.sqrt(var1 / n1 + var2 / n2)
            if spread <= 0.0:
                return 0.0
            return (mean2 - mean1) / spread
        ratio = 2.0 * (_loglik(n1, e1) + _loglik(n2, e2) - _loglik(n1 + n2, e1 + e2))
        root = math.sqrt(max(ratio, 0.0))
        return root if e2 / n2 >= e1 / n1 else -root

    def to_dict(self) -> dict[str, Any]:
        """The detector's settings and state as JSON-ready values."""
        return {
            "version": _STATE_VERSION,
            "task": self.task.value,
            "alpha": self.alpha,
            "min_labels": self.min_labels,
            "max_windows": self.max_windows,
            "floor": self.floor,
            "looks": self.looks,
            "alarms": self.alarms,
            "windows": [[w.start, w.count, w.errors, w.squares] for w in self.windows],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConceptDriftDetector:
        """A detector restored from ``to_dict``; raises ``ValueError`` on other input."""
        try:
            if data["version"] != _STATE_VERSION:
                raise ValueError(f"unknown detector state version {data['version']!r}")
            detector = cls(
                PerformanceTask(data["task"]),
                alpha=float(data["alpha"]),
                min_labels=int(data["min_labels"]),
                max_windows=int(data["max_windows"]),
            )
            floor = data["floor"]
            detector.floor = None if floor is None else float(floor)
            detector.looks = int(data["looks"])
            detector.alarms = int(data["alarms"])
            windows = [
                WindowErrors(float(s), int(n), float(e), float(q)) for s, n, e, q in data["windows"]
            ]
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a concept-drift detector state: {error}") from error
        if len(windows) > detector.max_windows or any(
            w.count < 0 or not (math.isfinite(w.errors) and math.isfinite(w.squares))
            for w in windows
        ):
            raise ValueError("concept-drift detector state has invalid windows")
        detector.windows = sorted(windows, key=lambda w: w.start)
        return detector


def _loglik(n: float, e: float) -> float:
    """Binomial log-likelihood of ``e`` errors in ``n`` at the rate ``e / n``."""
    if n <= 0:
        return 0.0
    p = min(max(e / n, 0.0), 1.0)
    out = 0.0
    if p > 0.0:
        out += e * math.log(p)
    if p < 1.0:
        out += (n - e) * math.log1p(-p)
    return out
