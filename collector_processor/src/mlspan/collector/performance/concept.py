"""Concept drift: has a model's error rate changed on the labelled stream?

The collector never sees per-row outcomes, only, per model version and prediction-time
window, how many labelled predictions there were and what their errors add up to (the
confusion matrix's off-diagonal for a classifier, the absolute and squared error sums
for a regressor). ``ConceptDriftDetector`` is ADWIN run on those window sums instead of
rows: the windows, in order of prediction time, are the rows of an exponential
histogram (at most ``per_level`` buckets of each size, the two oldest of a fuller size
merged into one of the next, as ADWIN keeps its own), so the state is O(log n) buckets
of (count, error sum, squared-error sum). Each time a window is updated (a *look*) every
bucket boundary is tested: the labels after it against those before it.

The test of one split is the signed square root of the binomial likelihood-ratio
statistic for a classifier's error rate (much closer to normal in the tails than the
Wald z of a two-proportion test when errors are few), and Welch's z on the mean absolute
error for a regressor (its variance comes from the squared-error sum). Where ADWIN cuts
on a Hoeffding-Bernstein bound, a split here alarms when its statistic passes
``ThresholdProfile.at(n)`` for the ``n`` labels after it (``concept_thresholds`` says
why the bar has its shape). One look at a stationary stream alarms with probability at
most ``last_look_bound`` (Bonferroni over the boundaries tested, normal approximation);
the realised rate per million labelled predictions, far below that, is measured by
``bench/concept_drift.py`` beside river's ADWIN on the same streams.

After an alarm the buckets before the change are dropped, as ADWIN drops its old
sub-window: the detector then watches the new regime. The state persists with
``to_dict`` / ``from_dict`` (version 2); a version-1 state, from the earlier detector
(single windows, one fixed ``alpha`` per look), loads with its windows compressed into
buckets, its counters and the default bars.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from mlspan.collector.performance.concept_thresholds import (
    ThresholdProfile,
    tail_probability,
)
from mlspan.semconv.values import PerformanceTask
from mlspan.summaries.performance import PerformanceSummary

DEFAULT_MIN_LABELS: Final = 100
"""Labels each side of a split needs before it is tested."""
DEFAULT_MAX_WINDOWS: Final = 256
"""Buckets kept whatever their levels; the oldest are merged past it (with
``per_level`` 5 that takes about 2 ** 50 windows)."""
DEFAULT_PER_LEVEL: Final = 5
"""Buckets of each level kept before the two oldest merge (ADWIN's ``max_buckets``)."""
_STATE_VERSION: Final = 2
_OLD_STATE_VERSION: Final = 1


@dataclass(frozen=True)
class WindowErrors:
    """What one bucket of consecutive prediction-time windows' labelled predictions add
    up to.

    ``errors`` sums the per-row error (1 for a misclassified row, the absolute error for
    a regressor) and ``squares`` its square (equal to ``errors`` for a classifier);
    ``start`` is the first window's start and ``level`` says the bucket holds about
    ``2 ** level`` windows (0: one window, which late labels still add to).
    """

    start: float
    count: int
    errors: float
    squares: float
    level: int = 0

    def plus(self, other: WindowErrors, level: int | None = None) -> WindowErrors:
        """This bucket with ``other``'s sums added (at ``level``, default this one's)."""
        return WindowErrors(
            self.start,
            self.count + other.count,
            self.errors + other.errors,
            self.squares + other.squares,
            self.level if level is None else level,
        )


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


class _Split(NamedTuple):
    """One tested boundary: labels and error sums before and after it."""

    start: float
    left_n: int
    left_e: float
    right_n: int
    right_e: float
    statistic: float


@dataclass(frozen=True)
class ConceptDriftDecision:
    """The outcome of one look: whether the error changed, from when and by how much.

    ``before`` and ``after`` are the error rates (classifier) or mean absolute errors
    (regressor) of the windows before the change and from ``since`` (the start of the
    first window after it, Unix seconds) on; ``statistic`` is the standardised
    difference of the split and ``threshold`` the bar the tested split had to pass. With
    no drift, the fields describe the split closest to its bar (largest ratio of
    statistic to bar; ``since`` is None when no split had enough labels).
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
        profile: ThresholdProfile | None = None,
        min_labels: int = DEFAULT_MIN_LABELS,
        max_windows: int = DEFAULT_MAX_WINDOWS,
        per_level: int = DEFAULT_PER_LEVEL,
    ) -> None:
        if min_labels < 1 or max_windows < 2 or per_level < 2:
            raise ValueError("min_labels must be >= 1, max_windows and per_level >= 2")
        self.task = task
        self.profile = ThresholdProfile() if profile is None else profile
        self.min_labels = min_labels
        self.max_windows = max_windows
        self.per_level = per_level
        self.windows: list[WindowErrors] = []
        self.floor: float | None = None
        self.looks = 0
        self.alarms = 0
        self.last_look_bound = 0.0
        """The Bonferroni bound on the false-alarm probability of the latest look."""

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
        """Put one window's labels in its bucket: a single window's own (new or existing),
        or the merged bucket whose span (up to the next bucket's start) covers it; a
        window older than every bucket joins the oldest merged one. Then compress."""
        windows = self.windows
        index = len(windows)
        while index and windows[index - 1].start > window.start:
            index -= 1
        if index and (windows[index - 1].start == window.start or windows[index - 1].level > 0):
            windows[index - 1] = windows[index - 1].plus(window)
        elif index == 0 and windows and windows[0].level > 0:
            windows[0] = replace(windows[0].plus(window), start=window.start)
        else:
            windows.insert(index, window)
        self._compress()

    def _compress(self) -> None:
        """Exponential-histogram compression, as ADWIN's: at most ``per_level`` buckets of
        each level; the two oldest of a fuller level merge into one of the next level.
        Split points far back are then sparse and stay put from look to look, which is
        what keeps the false alarms of a look at every boundary low. ``max_windows``
        bounds the buckets whatever the levels."""
        windows = self.windows
        level = 0
        while True:
            same = [i for i, w in enumerate(windows) if w.level == level]
            if not same:
                break
            if len(same) > self.per_level:
                older, newer = same[0], same[1]
                if newer == older + 1:
                    windows[older : newer + 1] = [windows[older].plus(windows[newer], level + 1)]
                    continue
            level += 1
        while len(windows) > self.max_windows:
            first, second = windows[0], windows[1]
            windows[:2] = [first.plus(second, max(first.level, second.level) + 1)]

    def test(self) -> ConceptDriftDecision:
        """One look: every tested split of the recent windows against the older ones;
        the decision describes the split closest to (or furthest past) its bar."""
        self.looks += 1
        windows = self.windows
        best: ConceptDriftDecision | None = None
        best_ratio = -1.0
        bound = 0.0
        for split in self._splits():
            threshold = self.profile.at(split.right_n)
            bound += tail_probability(threshold)
            if abs(split.statistic) / threshold > best_ratio:
                best_ratio = abs(split.statistic) / threshold
                best = ConceptDriftDecision(
                    drift=abs(split.statistic) > threshold,
                    task=self.task,
                    before=split.left_e / split.left_n,
                    after=split.right_e / split.right_n,
                    since=split.start,
                    labels_before=split.left_n,
                    labels_after=split.right_n,
                    statistic=split.statistic,
                    threshold=threshold,
                )
        self.last_look_bound = min(bound, 1.0)
        if best is None:
            return ConceptDriftDecision(
                False, self.task, math.nan, math.nan, None, 0, 0, 0.0, math.nan
            )
        if best.drift:
            self.alarms += 1
            best = self._locate(best)
            since = best.since
            self.windows = [w for w in windows if since is not None and w.start >= since]
            self.floor = since
        return best

    def _locate(self, alarm: ConceptDriftDecision) -> ConceptDriftDecision:
        """The alarm with the change placed at the bucket boundary of the largest
        statistic in the alarm's direction (the alarm itself is the split furthest past
        its bar, which on a long recent part is often a later one): the decision and its
        bar stay the alarming split's, only when and how much get sharper."""
        best = alarm
        for split in self._splits():
            statistic = split.statistic
            if statistic * alarm.statistic > 0 and abs(statistic) > abs(best.statistic):
                best = replace(
                    alarm,
                    before=split.left_e / split.left_n,
                    after=split.right_e / split.right_n,
                    since=split.start,
                    labels_before=split.left_n,
                    labels_after=split.right_n,
                    statistic=statistic,
                )
        return best

    def _splits(self) -> Iterator[_Split]:
        """Every bucket boundary with at least ``min_labels`` on each side, newest
        first: the recent windows against the older ones, with the test statistic."""
        windows = self.windows
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
            yield _Split(window.start, left_n, left_e, right_n, right_e, statistic)

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
            "profile": self.profile.to_dict(),
            "min_labels": self.min_labels,
            "max_windows": self.max_windows,
            "per_level": self.per_level,
            "floor": self.floor,
            "looks": self.looks,
            "alarms": self.alarms,
            "windows": [[w.start, w.count, w.errors, w.squares, w.level] for w in self.windows],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConceptDriftDetector:
        """A detector restored from ``to_dict``; raises ``ValueError`` on other input.

        A version-1 state (one fixed ``alpha`` per look, never configurable from the
        collector's settings, and up to ``max_windows`` single windows) keeps its
        windows, floor and counters, takes the default profile and ``per_level`` and is
        compressed into buckets: the alarms it raised stand, the next look uses the new
        bars."""
        try:
            version = data["version"]
            if version not in (_STATE_VERSION, _OLD_STATE_VERSION):
                raise ValueError(f"unknown detector state version {version!r}")
            if version == _OLD_STATE_VERSION:
                float(data["alpha"])  # present and numeric in a genuine version-1 state
                profile = ThresholdProfile()
            else:
                profile = ThresholdProfile.from_dict(data["profile"])
            detector = cls(
                PerformanceTask(data["task"]),
                profile=profile,
                min_labels=int(data["min_labels"]),
                max_windows=int(data["max_windows"]),
                per_level=int(data["per_level"])
                if version == _STATE_VERSION
                else DEFAULT_PER_LEVEL,
            )
            floor = data["floor"]
            detector.floor = None if floor is None else float(floor)
            detector.looks = int(data["looks"])
            detector.alarms = int(data["alarms"])
            windows = [
                WindowErrors(float(row[0]), int(row[1]), float(row[2]), float(row[3]), int(level))
                for row in data["windows"]
                for level in [row[4] if version == _STATE_VERSION else 0]
            ]
        except (KeyError, TypeError, IndexError) as error:
            raise ValueError(f"not a concept-drift detector state: {error}") from error
        if len(windows) > detector.max_windows or any(
            w.count < 0 or w.level < 0 or not (math.isfinite(w.errors) and math.isfinite(w.squares))
            for w in windows
        ):
            raise ValueError("concept-drift detector state has invalid windows")
        detector.windows = sorted(windows, key=lambda w: w.start)
        if any(a.level < b.level for a, b in itertools.pairwise(detector.windows)):
            raise ValueError("concept-drift detector state has buckets out of order")
        detector._compress()
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
