"""The fuzz harness at CI size against a real ``mlspan collector`` process.

A few thousand payloads of every mutator family (bytes, protobuf structure, OTLP/JSON,
mlspan attributes, HTTP framing), seeded with spans the instrumentation recorded while
scikit-learn really fitted, over OTLP/HTTP and OTLP/gRPC, with query API requests and
canary spans between batches; the collector forwards to an OTLP receiver that is down
during the fourth batch (back-pressure, then channels that must recover).
``bench/fuzz.py`` runs the same harness at >= 100,000 payloads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.harness import FuzzHarness, FuzzSettings, replay
from tests.fuzz.payloads import GRPC, HTTP, PROTOBUF, Payload
from tests.fuzz.report import FuzzReport
from tests.fuzz.seeds import Seeds

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(seeds: Seeds, tmp_path_factory: pytest.TempPathFactory) -> FuzzReport:
    out = tmp_path_factory.mktemp("fuzz")
    settings = FuzzSettings(
        out=out, payloads=3_000, api_payloads=400, batch=600, seed=7, forward=True
    )
    return FuzzHarness(seeds, settings).run()


def test_no_crash_hang_or_server_error(report: FuzzReport) -> None:
    table = report.table()
    assert report.sent >= 3_400, table
    assert not report.crashes, table
    assert report.count("hang") == 0, table
    assert report.count("5xx", "grpc_error") == 0, table
    assert report.count("no_answer", "stuck_connection") == 0, table
    assert report.count("retry") > 0, table  # the backend outage was felt


def test_valid_spans_between_batches_stay_queryable(report: FuzzReport) -> None:
    assert report.canary_sent >= 5 * 12
    assert report.canary_lost == 0 and report.canary_rejected == 0, report.table()


def test_every_family_was_sent_and_valid_seeds_were_accepted(report: FuzzReport) -> None:
    families = {family for family, _ in report.family_counts}
    assert {"bytes", "proto", "json", "mlspan", "framing", "valid", "api"} <= families
    valid = {c: n for (f, c), n in report.family_counts.items() if f == "valid"}
    assert set(valid) <= {"ok", "retry"}, valid
    # Mutated requests are mostly refused, and refused as the client's fault.
    assert report.count("4xx", "grpc_rejected") > report.sent // 4, report.table()


def test_saved_payloads_replay_with_the_same_outcome(seeds: Seeds, tmp_path: Path) -> None:
    good = Payload(GRPC, "valid", "seed", seeds.seeds[0].protobuf).save(tmp_path, "good")
    bad = Payload(HTTP, "bytes", "truncate", seeds.seeds[0].protobuf[:-7], PROTOBUF)
    results = dict(replay([good, bad.save(tmp_path, "bad")], tmp_path / "collector"))
    assert results[good] == "ok (OK)"
    assert results[tmp_path / "bad.bin"] == "4xx (400)"
