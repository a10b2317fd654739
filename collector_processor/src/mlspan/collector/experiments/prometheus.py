"""Prometheus families of the experiments processor, built at every scrape.

Per arm (``experiment``, ``arm``): ``mlspan_experiment_outcomes`` and
``mlspan_experiment_predictions`` (routed predictions), ``mlspan_experiment_metric``
(the arm's metric, label ``metric``). Per challenger: ``mlspan_experiment_difference``
(challenger minus control), ``mlspan_experiment_difference_bound`` (the always-valid
confidence sequence, label ``bound`` = ``low``/``high``), ``mlspan_experiment_p_value``
(always-valid, Holm-adjusted) and ``mlspan_experiment_verdict`` (1 for the current one
of ``better``, ``worse``, ``equivalent``, ``undecided``, 0 for the others). Per
experiment: ``mlspan_experiment_srm_p_value`` and
``mlspan_experiment_sample_ratio_mismatch`` (1 while the split is off its design).
Series are bounded by ``max_experiments`` times at most ten arms.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from mlspan.collector.experiments.processor import ExperimentsProcessor

logger = logging.getLogger(__name__)

PREFIX: Final = "mlspan_experiment"
STATUSES: Final = ("better", "worse", "equivalent", "undecided")


class ExperimentMetrics(Collector):
    """See the module docstring."""

    def __init__(self, processor: ExperimentsProcessor) -> None:
        self._processor = processor

    def describe(self) -> Iterable[Metric]:
        """The families without samples."""
        return list(_families().values())

    def collect(self) -> Iterator[Metric]:
        """Every experiment's current figures."""
        families = _families()
        try:
            results = self._processor.results()
        except Exception:
            logger.exception("reading experiment results for /metrics failed")
            results = []
        for result in results:
            name, metric = result.name, result.spec.name
            for arm in result.arms:
                families["outcomes"].add_metric((name, arm.name), arm.outcomes)
                families["predictions"].add_metric((name, arm.name), arm.assigned)
                if arm.value is not None:
                    families["metric"].add_metric((name, arm.name, metric), arm.value)
            for comparison in result.comparisons:
                labels = (name, comparison.arm, metric)
                if comparison.difference is not None:
                    families["difference"].add_metric(labels, comparison.difference)
                for bound, value in (("low", comparison.low), ("high", comparison.high)):
                    if value is not None:
                        families["bound"].add_metric((*labels, bound), value)
                families["p_value"].add_metric((name, comparison.arm), comparison.p_adjusted)
                for status in STATUSES:
                    families["verdict"].add_metric(
                        (name, comparison.arm, status), float(comparison.status == status)
                    )
            if result.srm.p_value is not None:
                families["srm_p_value"].add_metric((name,), result.srm.p_value)
            families["srm"].add_metric((name,), float(result.srm.mismatch))
        families["refused"].add_metric((), self._processor.refused_spans)
        yield from families.values()


def _families() -> dict[str, GaugeMetricFamily | CounterMetricFamily]:
    arm = ("experiment", "arm")
    return {
        "outcomes": GaugeMetricFamily(
            f"{PREFIX}_outcomes", "Labelled outcomes of an experiment arm.", labels=arm
        ),
        "predictions": GaugeMetricFamily(
            f"{PREFIX}_predictions", "Predictions routed to an experiment arm.", labels=arm
        ),
        "metric": GaugeMetricFamily(
            f"{PREFIX}_metric",
            "An experiment arm's metric over its outcomes.",
            labels=(*arm, "metric"),
        ),
        "difference": GaugeMetricFamily(
            f"{PREFIX}_difference",
            "A challenger's metric minus the control's.",
            labels=(*arm, "metric"),
        ),
        "bound": GaugeMetricFamily(
            f"{PREFIX}_difference_bound",
            "Always-valid confidence sequence of the difference (running intersection).",
            labels=(*arm, "metric", "bound"),
        ),
        "p_value": GaugeMetricFamily(
            f"{PREFIX}_p_value",
            "A challenger's always-valid p-value against the control, Holm-adjusted.",
            labels=arm,
        ),
        "verdict": GaugeMetricFamily(
            f"{PREFIX}_verdict",
            "1 for a challenger's current verdict (better, worse, equivalent, undecided).",
            labels=(*arm, "verdict"),
        ),
        "srm_p_value": GaugeMetricFamily(
            f"{PREFIX}_srm_p_value",
            "Chi-square p-value of the observed split against the designed one.",
            labels=("experiment",),
        ),
        "srm": GaugeMetricFamily(
            f"{PREFIX}_sample_ratio_mismatch",
            "1 while an experiment's split is off its design (p below 0.001).",
            labels=("experiment",),
        ),
        "refused": CounterMetricFamily(
            f"{PREFIX}_refused_spans",
            "Performance or prediction spans the experiments processor refused as malformed.",
            labels=(),
        ),
    }
