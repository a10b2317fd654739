"""Property checks of the collector's summary decoder, run in a process of their own.

``python -m tests.fuzz.decoder_properties --examples N --trace FILE`` checks, with
``hypothesis``:

- a summary the instrumentation would send decodes to the same summary;
- a hostile event either decodes or raises ``BadSummary`` (nothing else), and whatever
  decodes is safe for the native code behind it: the sketch deserialises, answers
  quantiles and ranks, merges with a valid summary of its kind and survives a round
  trip through ``to_attributes``.

A gap in the checks can crash the process (a native read out of bounds) rather than
raise, so the tests run this module as a child process; before each hostile example
its attributes are written to ``--trace`` (repr, one file, overwritten), which is then
the reproducer of a crash. Exit status 0 when every property holds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from datasketches import frequent_items_error_type
from hypothesis import HealthCheck, given, settings

from mlspan.collector.drift.summary_check import BadSummary, decode_summary
from mlspan.summaries import CategoricalSummary, FeatureSummary, NumericalSummary
from tests.fuzz.strategies import Attributes, feature_summaries, hostile_attributes


def check_round_trip(summary: FeatureSummary) -> None:
    """A valid summary decodes to itself."""
    assert decode_summary(summary.to_attributes()) == summary


def exercise(summary: FeatureSummary, partner: FeatureSummary) -> None:
    """What the collector's drift engine does with an accepted summary."""
    stats = summary.stats
    if isinstance(stats, NumericalSummary):
        sketch = stats.sketch()
        if not sketch.is_empty():
            sketch.get_quantile(0.5)
            sketch.get_rank(sketch.get_max_value())
        assert stats.rank_error >= 0.0
    elif isinstance(stats, CategoricalSummary):
        stats.sketch().get_frequent_items(frequent_items_error_type.NO_FALSE_NEGATIVES)
    if partner.kind is summary.kind:
        merged = summary.merge(partner)
        decode_summary(merged.to_attributes())
    decode_summary(summary.to_attributes())


def check_hostile(attributes: Attributes, partner: FeatureSummary, trace: Path | None) -> None:
    """A hostile event is refused with ``BadSummary`` or decodes to something usable."""
    if trace is not None:
        trace.write_text(repr(attributes))
    try:
        summary = decode_summary(attributes)
    except BadSummary:
        return
    exercise(summary, partner)


def run(examples: int, trace: Path | None) -> None:
    """Run both properties with ``examples`` examples each (raises on a failure)."""
    options = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    options(given(feature_summaries)(check_round_trip))()
    hostile = given(hostile_attributes(), feature_summaries)(
        lambda attributes, partner: check_hostile(attributes, partner, trace)
    )
    options(hostile)()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--trace", type=Path, help="file holding the example being tried")
    args = parser.parse_args(argv)
    run(args.examples, args.trace)
    print(f"decoder properties held over {args.examples} examples each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
