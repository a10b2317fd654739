"""The fuzz report's RSS growth: the trend, not one sample of a sawtooth."""

from __future__ import annotations

from tests.fuzz.report import FuzzReport

MIB = 2**20


def _report(samples_mib: list[float], base: int = 0) -> FuzzReport:
    report = FuzzReport()
    report.rss_samples = [int(s * MIB) for s in samples_mib]
    report.rss_base_index = base
    return report


def test_a_flat_sawtooth_is_not_growth() -> None:
    """Trimming every few seconds makes RSS swing between two levels; the last sample
    falling on a peak after a base on a trough is not a leak."""
    saw = [200.0, 240.0] * 50
    saw[0], saw[-1] = 200.0, 240.0
    assert abs(_report(saw).rss_growth) < 0.01
    assert saw[-1] / saw[0] - 1 > 0.19  # what comparing single samples reported


def test_a_steady_climb_under_the_sawtooth_is_growth() -> None:
    climb = [200.0 + i + (20 if i % 2 else 0) for i in range(100)]
    assert _report(climb).rss_growth > 0.3


def test_samples_before_the_base_are_left_out() -> None:
    warm_up_then_flat = [50.0] * 10 + [200.0] * 90
    assert _report(warm_up_then_flat, base=10).rss_growth == 0.0
    assert _report(warm_up_then_flat).rss_growth > 1.0
