"""Fuzz benchmark: >= 100,000 hostile payloads against a real ``mlspan collector``.

Seeds are OTLP requests made by mlspan's own instrumentation while scikit-learn really
fits and predicts (feature summaries with KLL sketches and category tables included);
they are mutated blindly (bit flips, truncation, splices, insertions, repeats), through
the protobuf message API, as OTLP/JSON trees and text (wrong types, 50,000-level
nesting, huge numbers, invalid UTF-8, lone surrogates, duplicate keys), through their
``mlspan.*`` attributes (wrong types, sketches corrupted behind a valid header, absurd
timestamps, NaN parameters) and through HTTP framing (content types, chunking,
Content-Length lies). They go to the OTLP/HTTP and OTLP/gRPC receivers, with query API
requests (every route of ``/openapi.json``, hostile parameters and bodies) mixed into
every batch; between batches valid spans are sent and must be queryable through the
lineage API. The collector also forwards to a real OTLP receiver that is down during
every fourth batch, so back-pressure answers and the channels that saw them are part of
the run. See ``tests/fuzz/`` for the parts.

Reports crashes (process death; the payloads sent just before are saved for replay),
hangs, 5xx, gRPC INTERNAL/UNKNOWN, connections closed without an answer, stuck gRPC
channels, RSS growth and canary spans lost. Exits 1 when a goal is not met: 0 crashes,
0 hangs, 0 5xx, RSS growth <= 10 % (from the sample after the first 10 % of the run),
every canary span queryable.

    .venv/bin/python bench/fuzz.py                          # 100,000 OTLP + 5,000 API
    .venv/bin/python bench/fuzz.py --payloads 5000 --api-payloads 500 --out /tmp/fz
    .venv/bin/python bench/fuzz.py --replay /tmp/fz/crashes/crash-1/*.bin
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuzz.harness import FuzzHarness, FuzzSettings, replay  # noqa: E402
from tests.fuzz.seeds import Seeds  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payloads", type=int, default=100_000, help="OTLP payloads")
    parser.add_argument("--api-payloads", type=int, default=5_000, help="query API requests")
    parser.add_argument("--grpc-share", type=float, default=0.45)
    parser.add_argument("--batch", type=int, default=1_000, help="payloads between canaries")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds before a hang")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-forward",
        action="store_true",
        help="default pipeline only (no OTLP backend that goes down every 4th batch)",
    )
    parser.add_argument("--out", type=Path, help="where findings go (default: a new temp dir)")
    parser.add_argument("--replay", type=Path, nargs="+", help="send saved .bin payloads")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="mlspan-fuzz-"))
    if args.replay:
        for path, result in replay(args.replay, out / "replay", args.timeout):
            print(f"{result:<32} {path}")
        return 0
    print(f"recording seed spans (scikit-learn fits under instrumentation); findings in {out}")
    seeds = Seeds.record()
    print(
        f"{len(seeds.seeds)} seed requests, {len(seeds.with_summaries)} with feature "
        f"summaries; sending {args.payloads} OTLP and {args.api_payloads} API payloads",
        flush=True,
    )
    settings = FuzzSettings(
        out=out,
        payloads=args.payloads,
        api_payloads=args.api_payloads,
        grpc_share=args.grpc_share,
        batch=args.batch,
        timeout_s=args.timeout,
        seed=args.seed,
        forward=not args.no_forward,
        progress=True,
    )
    report = FuzzHarness(seeds, settings).run()
    print(report.table())
    print(f"\nfindings: {out}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
