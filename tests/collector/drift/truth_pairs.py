"""Ground-truth drift pairs, summarised by the instrumentation and judged by the engine.

Each case draws a reference and a current column whose truth is known by construction:
drifted cases change the distribution materially (and are sized so that exact tests on
the raw data find them at 2,000 rows), undrifted ones draw both sides from one
distribution or shift it immaterially (0.03 sigma, one category 40 % -> 38 %). All
cases of one size and seed form one model's frame, so the engine corrects their tests
together as it does for a real model. Used by the accuracy suite
(``test_accuracy_truth.py``) and by ``bench/drift_accuracy.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlspan.collector.drift.analysis import ProfileCache, analyze
from mlspan.collector.drift.results import DatasetDrift, ModelKey
from mlspan.collector.drift.state import FeatureId, ModelState, Window
from mlspan.collector.drift.thresholds import DriftThresholds
from mlspan.collector.validation.config import ValidationConfig
from mlspan.instrumentation.options import InstrumentationOptions
from mlspan.instrumentation.summarize import Summarizer
from mlspan.semconv.values import FeatureOrigin
from mlspan.summaries import FeatureSummary

Array = npt.NDArray[np.float64] | npt.NDArray[np.str_]
Draw = Callable[[np.random.Generator, int], tuple[Array, Array]]
KEY = ModelKey("truth", "pairs", "v1")
OFFSET = 1e9
"""Values near 1e9: a float64 there resolves ~1e-7, moments must not lose the spread."""


@dataclass(frozen=True)
class TruthCase:
    """One reference/current pair with its known answer."""

    name: str
    kind: str
    drifted: bool
    draw: Draw
    what: str


def _same(draw: Callable[[np.random.Generator, int], Array]) -> Draw:
    return lambda r, n: (draw(r, n), draw(r, n))


def _pair(
    before: Callable[[np.random.Generator, int], Array],
    after: Callable[[np.random.Generator, int], Array],
) -> Draw:
    return lambda r, n: (before(r, n), after(r, n))


def _normal(mean: float = 0.0, sd: float = 1.0) -> Callable[[np.random.Generator, int], Array]:
    return lambda r, n: r.normal(mean, sd, n)


def _bimodal(r: np.random.Generator, n: int) -> Array:
    """Mean 0, variance 1, two modes at +-0.9."""
    return r.choice([-0.9, 0.9], n) + r.normal(0.0, np.sqrt(1 - 0.81), n)


def _skewed(r: np.random.Generator, n: int) -> Array:
    """Mean 0, median 0, variance 1, skewed: a linear left half, a squared right half."""
    z = r.normal(size=n)
    a = np.sqrt(2 / (1 + 3 * (2 / np.pi)))
    return np.asarray(np.where(z < 0, a * z, a * np.sqrt(2 / np.pi) * z * z), dtype=np.float64)


def _t3(r: np.random.Generator, n: int) -> Array:
    """Student t with 3 degrees of freedom scaled to variance 1: heavier tails, same variance."""
    return np.asarray(r.standard_t(3, n) / np.sqrt(3.0), dtype=np.float64)


def _categories(
    labels: list[str], shares: list[float]
) -> Callable[[np.random.Generator, int], Array]:
    values, p = np.array(labels), np.asarray(shares) / np.sum(shares)
    return lambda r, n: r.choice(values, n, p=p)


def _zipf(levels: int, exponent: float) -> Callable[[np.random.Generator, int], Array]:
    labels = [f"id{i:05d}" for i in range(levels)]
    return _categories(labels, list(1.0 / np.arange(1, levels + 1) ** exponent))


FOUR = ["a", "b", "c", "d"]

CASES: tuple[TruthCase, ...] = (
    TruthCase("n_same_normal", "numerical", False, _same(_normal()), "N(0,1) both"),
    TruthCase(
        "n_same_lognormal",
        "numerical",
        False,
        _same(lambda r, n: r.lognormal(0.0, 1.0, n)),
        "lognormal(0, 1) both (heavy right tail)",
    ),
    TruthCase("n_same_1e9", "numerical", False, _same(_normal(OFFSET)), "1e9 + N(0,1) both"),
    TruthCase(
        "n_tiny_shift",
        "numerical",
        False,
        _pair(_normal(), _normal(0.03)),
        "location +0.03 sigma (immaterial)",
    ),
    TruthCase(
        "n_location", "numerical", True, _pair(_normal(), _normal(0.25)), "location +0.25 sigma"
    ),
    TruthCase("n_scale", "numerical", True, _pair(_normal(), _normal(0.0, 1.5)), "scale x1.5"),
    TruthCase(
        "n_bimodal",
        "numerical",
        True,
        _pair(_normal(), _bimodal),
        "bimodal, same mean and variance",
    ),
    TruthCase(
        "n_skewed",
        "numerical",
        True,
        _pair(_normal(), _skewed),
        "skewed, same mean, median and variance",
    ),
    TruthCase(
        "n_heavier_tails", "numerical", True, _pair(_normal(), _t3), "t(3) at variance 1 vs N(0,1)"
    ),
    TruthCase(
        "n_1e9_location",
        "numerical",
        True,
        _pair(_normal(OFFSET), _normal(OFFSET + 0.25)),
        "1e9 + N(0,1), location +0.25 sigma",
    ),
    TruthCase(
        "c_same_four",
        "categorical",
        False,
        _same(_categories(FOUR, [0.4, 0.3, 0.2, 0.1])),
        "shares 40/30/20/10 both",
    ),
    TruthCase(
        "c_same_zipf50", "categorical", False, _same(_zipf(50, 1.0)), "50 levels, Zipf 1.0 both"
    ),
    TruthCase(
        "c_same_many",
        "categorical",
        False,
        _same(_zipf(3000, 1.1)),
        "3,000 levels, Zipf 1.1 both (a frequent-items sketch past 1,000 levels)",
    ),
    TruthCase(
        "c_small_shift",
        "categorical",
        False,
        _pair(_categories(FOUR, [0.4, 0.3, 0.2, 0.1]), _categories(FOUR, [0.38, 0.3, 0.22, 0.1])),
        "share of a 40 % -> 38 % (immaterial)",
    ),
    TruthCase(
        "c_top_share",
        "categorical",
        True,
        _pair(_categories(FOUR, [0.4, 0.3, 0.2, 0.1]), _categories(FOUR, [0.3, 0.3, 0.25, 0.15])),
        "share of a 40 % -> 30 % (JS 0.087, PSI 0.06)",
    ),
    TruthCase(
        "c_new_level",
        "categorical",
        True,
        _pair(
            _categories(FOUR, [0.4, 0.3, 0.2, 0.1]),
            _categories([*FOUR, "new"], [0.37, 0.28, 0.18, 0.09, 0.08]),
        ),
        "a new level at 8 %",
    ),
    TruthCase(
        "c_many_shift",
        "categorical",
        True,
        _pair(_zipf(3000, 1.1), _zipf(3000, 1.3)),
        "3,000 levels, Zipf 1.1 -> 1.3",
    ),
)
"""Every case; ``drifted`` is the truth."""

BY_NAME: Mapping[str, TruthCase] = {case.name: case for case in CASES}


def frames(rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current frames with one column per case."""
    rng = np.random.default_rng(seed)
    pairs = {case.name: case.draw(rng, rows) for case in CASES}
    return (
        pd.DataFrame({name: pair[0] for name, pair in pairs.items()}),
        pd.DataFrame({name: pair[1] for name, pair in pairs.items()}),
    )


def summarise(frame: pd.DataFrame) -> dict[FeatureId, FeatureSummary]:
    """The instrumentation's summaries of ``frame``, through the span-event wire format."""
    summarizer = Summarizer.from_options(InstrumentationOptions())
    out = {}
    for summary in summarizer.summarize(frame, FeatureOrigin.INPUT, ""):
        decoded = FeatureSummary.from_attributes(dict(summary.to_attributes()))
        out[(decoded.name, FeatureOrigin.INPUT.value)] = decoded
    return out


def judge(
    reference: dict[FeatureId, FeatureSummary],
    current: dict[FeatureId, FeatureSummary],
    thresholds: DriftThresholds,
) -> DatasetDrift:
    """The engine's analysis of one window of ``current`` against baseline ``reference``."""
    state = ModelState(KEY, baseline=dict(reference))
    window = Window(features=dict(current), first=0.0, last=1.0)
    return analyze(state, window, ValidationConfig(drift=thresholds), ProfileCache())[0]
