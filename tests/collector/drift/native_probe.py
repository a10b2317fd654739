"""Feeds mutated real sketches and summaries through the checks into the native code.

Run as its own process (``python -m tests.collector.drift.native_probe``) by the tests:
whatever the checks accept is handed to DataSketches exactly as the collector would
(deserialize, query, merge, serialize, and the drift statistics on whole summaries), so a
gap in the checks shows up as this process dying with a signal, which the test reports
as a failure instead of losing the test runner. It prints one JSON line of counts.

``--unguarded`` skips the checks and deserializes the given hex blobs directly: the
control that shows the crash cases really crash an unprotected process.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import sys
import traceback

import numpy as np
from datasketches import frequent_items_error_type, frequent_strings_sketch, kll_doubles_sketch

from mlspan.collector.drift.categorical import compare_categorical
from mlspan.collector.drift.frequent_format import check_frequent_strings
from mlspan.collector.drift.kll_format import SketchFormatError, check_kll_doubles
from mlspan.collector.drift.numerical import NumericalProfile, compare_numerical
from mlspan.collector.drift.summary_check import BadSummary, decode_summary
from mlspan.semconv import attributes as attr
from mlspan.summaries import CategoricalSummary, FeatureSummary, NumericalSummary
from tests.collector.drift.corpus import frequent_sketches, kll_sketches, summary_events
from tests.collector.drift.mutations import mutate_bytes, mutate_event


def probe_kll(count: int, rng: random.Random) -> dict[str, object]:
    """Mutants of real KLL sketches: checked, and the accepted ones used natively."""
    corpus = [blob for _label, blob in kll_sketches(rng.randrange(1 << 30), large=False)]
    accepted = 0
    errors: list[str] = []
    for _ in range(count):
        blob = mutate_bytes(rng.choice(corpus), rng)
        try:
            layout = check_kll_doubles(blob)
        except SketchFormatError:
            continue
        accepted += 1
        sketch = kll_doubles_sketch.deserialize(blob)
        if sketch.n != layout.n or sketch.num_retained != layout.retained:
            errors.append(f"layout differs from the library's for {blob.hex()[:80]}")
        if bytes(sketch.serialize()) != blob:
            errors.append(f"accepted bytes do not round-trip: {blob.hex()[:80]}")
        if sketch.n:
            sketch.get_quantiles(np.linspace(0.01, 0.99, 7))
            sketch.get_cdf(np.unique([layout.min_value, layout.max_value]), True)
        other = kll_doubles_sketch.deserialize(rng.choice(corpus))
        other.merge(sketch)
        other.update(1.0)
        kll_doubles_sketch.deserialize(bytes(other.serialize()))
    return {"mutants": count, "accepted": accepted, "errors": errors}


def probe_frequent(count: int, rng: random.Random) -> dict[str, object]:
    """Mutants of real frequent-strings sketches, checked and the accepted ones used."""
    corpus = [blob for _label, blob in frequent_sketches(rng.randrange(1 << 30))]
    accepted = 0
    for _ in range(count):
        blob = mutate_bytes(rng.choice(corpus), rng)
        try:
            check_frequent_strings(blob)
        except SketchFormatError:
            continue
        accepted += 1
        sketch = frequent_strings_sketch.deserialize(blob)
        sketch.get_frequent_items(frequent_items_error_type.NO_FALSE_NEGATIVES)
        sketch.merge(frequent_strings_sketch.deserialize(rng.choice(corpus)))
        sketch.update("extra", 2)
        frequent_strings_sketch.deserialize(bytes(sketch.serialize()))
    return {"mutants": count, "accepted": accepted, "errors": []}


def probe_summaries(count: int, rng: random.Random) -> dict[str, object]:
    """Mutants of real summary events, decoded; the accepted ones merged and compared."""
    events = summary_events(rng.randrange(1 << 30), rows=2_000)
    good = [FeatureSummary.from_attributes(e) for e in events]
    accepted = 0
    errors: list[str] = []
    for _ in range(count):
        event = mutate_event(rng.choice(events), rng)
        try:
            summary = decode_summary(event)
        except BadSummary:
            continue
        accepted += 1
        try:
            _compare(next(g for g in good if g.kind is summary.kind), summary)
        except Exception as exc:  # accepted but unusable: the checks missed something
            where = traceback.extract_tb(exc.__traceback__)[-1]
            errors.append(f"{type(exc).__name__} at {where.name}:{where.lineno}: {exc}")
    return {"mutants": count, "accepted": accepted, "errors": errors}


def _compare(partner: FeatureSummary, summary: FeatureSummary) -> None:
    """Merge and compare ``summary`` with a good one the way windows and analysis do."""
    with np.errstate(all="ignore"):
        merged = partner.merge(summary).stats
        reference, current = partner.stats, summary.stats
        if isinstance(reference, NumericalSummary) and isinstance(current, NumericalSummary):
            assert isinstance(merged, NumericalSummary)
            current.rank_error  # noqa: B018  (deserializes and queries the sketch)
            compare_numerical(NumericalProfile.of(reference), NumericalProfile.of(current))
            compare_numerical(NumericalProfile.of(merged), NumericalProfile.of(current))
        elif isinstance(reference, CategoricalSummary) and isinstance(current, CategoricalSummary):
            assert isinstance(merged, CategoricalSummary)
            compare_categorical(reference, current)
            compare_categorical(merged, current)


def probe_headers(count: int, rng: random.Random, blobs: list[str]) -> dict[str, object]:
    """The fuzzer's crash: summary events whose sketch is a valid full-sketch header
    followed by 12 random bytes (plus ``blobs``), decoded; accepted ones used natively."""
    event = dict(summary_events(rng.randrange(1 << 30), rows=500)[0])
    sketches = [bytes.fromhex(text) for text in blobs]
    header = bytes([5, 1, 15, 0, 200, 0, 8, 0])
    sketches += [header + rng.randbytes(12) for _ in range(count)]
    accepted = 0
    for sketch in sketches:
        event[attr.SUMMARY_SKETCH] = base64.b64encode(sketch).decode()
        try:
            summary = decode_summary(event)
        except BadSummary:
            continue
        accepted += 1
        assert isinstance(summary.stats, NumericalSummary)
        summary.stats.sketch().get_quantiles([0.5])
    return {"mutants": len(sketches), "accepted": accepted, "errors": []}


def unguarded(blobs: list[str]) -> None:
    """Deserialize and query each hex blob with no checks (expected to crash)."""
    for text in blobs:
        try:
            sketch = kll_doubles_sketch.deserialize(bytes.fromhex(text))
            sketch.get_quantiles([0.5])
        except Exception:  # the library's own exceptions are not what this is about
            continue


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("kll", "frequent", "summaries", "headers", "unguarded"))
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--blob", action="append", default=[], help="a sketch, in hex")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    if args.what == "unguarded":
        unguarded(args.blob)
        print(json.dumps({"survived": True}))
        return
    if args.what == "headers":
        print(json.dumps(probe_headers(args.count, rng, args.blob)))
        return
    probe = {"kll": probe_kll, "frequent": probe_frequent, "summaries": probe_summaries}
    print(json.dumps(probe[args.what](args.count, rng)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
