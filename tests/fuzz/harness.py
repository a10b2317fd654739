"""The fuzz run: payloads against a real collector, in batches, with checks between.

Each payload goes to the OTLP/HTTP or OTLP/gRPC receiver (``grpc_share`` of them to
gRPC); a share of query API requests is mixed into every batch. After each request the
process is checked: if it died, the last payloads sent are saved under
``out/crashes/`` with the exit (e.g. SIGSEGV) and the log tail, and a new process is
started on the same data folder. A process that stops answering (three hangs in a row)
is treated the same way, after SIGABRT has made it write every thread's stack to its
log. Failing requests (5xx, hangs, connections closed
without an answer, stuck gRPC channels) are saved under ``out/failures/`` (the first
few of each kind) for replay with ``bench/fuzz.py --replay``.

Between batches valid requests with fresh ids go in over both transports and each of
their runs must become queryable at ``/api/v1/runs/{id}`` (the lineage write survived
the batch), and the process's RSS is sampled.

With ``forward``, the collector also forwards to a real OTLP/gRPC backend
(``ParsingBackend``) that is down during every ``outage_every``-th batch: the exporter's
queue fills, the receivers answer with back-pressure, and gRPC channels that saw it must
recover once it is back. Forwarded requests the backend cannot parse are saved under
``out/forwarded-unparseable/``.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tests.fuzz.api_fuzz import API, ApiFuzzer
from tests.fuzz.backend import ParsingBackend
from tests.fuzz.collector import CollectorProcess, forwarding_document
from tests.fuzz.payloads import GRPC, HTTP, JSON, Payload, PayloadGenerator
from tests.fuzz.report import Crash, FuzzReport
from tests.fuzz.seeds import Seeds, run_ids, to_otlp_json
from tests.fuzz.senders import FAILURES, GrpcSender, HttpSender, Outcome

CANARY_WAIT_S: Final = 60.0
COUNTERS: Final = ("mlspan_spans_dropped_total", "mlspan_requests_rejected_total")
WEDGED_AFTER: Final = 3
"""Consecutive hangs after which the process counts as stuck (dumped and restarted)."""
WARM_UP_SHARE: Final = 0.1
"""RSS growth is measured from the sample after this share of the run."""


@dataclass(frozen=True)
class FuzzSettings:
    """How much to send and where to keep what is found."""

    out: Path
    payloads: int = 100_000
    """OTLP payloads (both receivers together)."""
    api_payloads: int = 5_000
    grpc_share: float = 0.45
    batch: int = 1_000
    canary_spans: int = 12
    timeout_s: float = 15.0
    seed: int = 1
    saved_per_kind: int = 3
    forward: bool = False
    outage_every: int = 4
    progress: bool = False
    """Print one line per batch (sent so far, failures, RSS)."""


class FuzzHarness:
    """Runs ``settings`` against a fresh collector process."""

    def __init__(self, seeds: Seeds, settings: FuzzSettings) -> None:
        self.seeds = seeds
        self.settings = settings
        self.report = FuzzReport()
        self.sink = (
            ParsingBackend(settings.out / "forwarded-unparseable") if settings.forward else None
        )
        document = forwarding_document(self.sink.endpoint) if self.sink else None
        self.collector = CollectorProcess(settings.out / "collector", document)
        self.generator = PayloadGenerator(seeds, settings.seed)
        self.recent: deque[Payload] = deque(maxlen=20)
        self.canary_ids: list[str] = []
        self._saved = 0
        self._hangs = 0

    # -- the run ---------------------------------------------------------------------
    def run(self) -> FuzzReport:
        """Send everything; the report of what happened."""
        started = time.monotonic()
        s = self.settings
        if self.sink is not None:
            self.sink.start()
        self.collector.start()
        self._connect()
        try:
            batches = max(1, -(-s.payloads // s.batch))
            api_per_batch = -(-s.api_payloads // batches) if s.api_payloads else 0
            sent_api = 0
            for index in range(batches):
                count = min(s.batch, s.payloads - index * s.batch)
                outage = self.sink is not None and index % s.outage_every == s.outage_every - 1
                if outage and self.sink is not None:
                    self.sink.stop()
                for _ in range(count):
                    grpc = self.generator.rng.random() < s.grpc_share
                    self._send(self.generator.grpc() if grpc else self.generator.http())
                for _ in range(min(api_per_batch, s.api_payloads - sent_api)):
                    self._send(self.api.next())
                    sent_api += 1
                if self.sink is not None:
                    self.sink.start()
                self._canary(index)
                self.report.rss_samples.append(self.collector.rss_bytes())
                with (s.out / "rss.txt").open("a") as rss_log:
                    rss_log.write(f"{self.report.sent} {self.report.rss_samples[-1]}\n")
                if index < batches * WARM_UP_SHARE:
                    self.report.rss_base_index = len(self.report.rss_samples) - 1
                if s.progress:
                    self._print_progress(index, batches, started)
        finally:
            self.report.collector_counters = self._counters()
            self.grpc.close()
            self.collector.stop()
            if self.sink is not None:
                self.sink.stop()
                self.report.forwarded_spans = self.sink.parsed_spans
                self.report.forwarded_unparseable = self.sink.unparseable_count
                self.report.forwarded_unparseable_saved = list(self.sink.unparseable)
            self.report.elapsed_s = time.monotonic() - started
        return self.report

    def _counters(self) -> dict[str, float]:
        """Dropped-span and refused-request counters from the collector's /metrics."""
        url = f"{self.collector.api_url}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=self.settings.timeout_s) as response:
                text = response.read().decode("utf-8", "replace")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return {}
        counters: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith(COUNTERS):
                name, _, value = line.rpartition(" ")
                counters[name] = float(value)
        return counters

    def _print_progress(self, index: int, batches: int, started: float) -> None:
        r = self.report
        failures = sum(r.failure_counts.values())
        print(
            f"batch {index + 1}/{batches}: {r.sent} sent in {time.monotonic() - started:.0f} s,"
            f" {len(r.crashes)} crashes, {failures} failures,"
            f" RSS {r.rss_samples[-1] / 2**20:.0f} MiB",
            flush=True,
        )

    def _connect(self) -> None:
        timeout = self.settings.timeout_s
        self.http = HttpSender(self.collector.http_address, timeout)
        self.grpc = GrpcSender(self.collector.grpc_address, timeout)
        self.api_sender = HttpSender(self.collector.api_url.removeprefix("http://"), timeout)
        self.api = ApiFuzzer(self.collector.api_url, self.settings.seed, self.canary_ids)

    def _send(self, payload: Payload) -> Outcome:
        self.recent.append(payload)
        if payload.transport == GRPC:
            outcome = self.grpc.send(payload)
        elif payload.transport == API:
            outcome = self.api_sender.send_raw(payload.body)
        else:
            outcome = self.http.send(payload)
        if not self.collector.alive:
            exit_description = self.collector.exit_description
            self._crashed(exit_description)
            return Outcome("crash", exit_description)
        self._hangs = self._hangs + 1 if outcome.category == "hang" else 0
        if self._hangs >= WEDGED_AFTER:
            self._hangs = 0
            self.collector.dump_and_kill()
            self._crashed(f"unresponsive ({WEDGED_AFTER} hangs in a row; stacks in the log)")
        self.report.counts[(payload.transport, outcome.category)] += 1
        self.report.family_counts[(payload.family, outcome.category)] += 1
        if outcome.category in FAILURES:
            self._failed(outcome, payload)
        return outcome

    # -- findings --------------------------------------------------------------------
    def _name(self, kind: str) -> str:
        self._saved += 1
        return f"{self._saved:05d}-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", kind)[:80]

    def _failed(self, outcome: Outcome, payload: Payload) -> None:
        key = (outcome.category, f"{payload.kind} -> {outcome.status}")
        self.report.failure_counts[key] += 1
        saved = self.report.failures.setdefault(key, [])
        if len(saved) < self.settings.saved_per_kind:
            folder = self.settings.out / "failures" / outcome.category
            saved.append(payload.save(folder, self._name(payload.kind)))

    def _crashed(self, exit_description: str) -> None:
        folder = self.settings.out / "crashes" / f"crash-{len(self.report.crashes) + 1}"
        paths = [p.save(folder, self._name(p.kind)) for p in self.recent]
        self.report.crashes.append(Crash(exit_description, paths, self.collector.log_tail()))
        (folder / "collector.log").write_text(self.collector.log_tail(20_000))
        self.grpc.close()
        self.recent.clear()
        self.collector.restart()
        self._connect()
        self.report.rss_base_index = len(self.report.rss_samples)

    # -- canary ----------------------------------------------------------------------
    def _canary(self, index: int) -> None:
        """Valid spans over both transports must be accepted and become queryable."""
        half = max(1, self.settings.canary_spans // 2)
        over_grpc = self.seeds.fresh(half, seed=10_000 + 2 * index)
        over_http = self.seeds.fresh(half, seed=10_001 + 2 * index)
        sends = (
            Payload(GRPC, "canary", "canary", over_grpc.SerializeToString()),
            Payload(HTTP, "canary", "canary", to_otlp_json(over_http), JSON),
        )
        expected: list[str] = []
        for payload, request in zip(sends, (over_grpc, over_http), strict=True):
            ids = run_ids(request)
            self.report.canary_sent += len(ids)
            if self._accepted(payload):
                expected += ids
            else:
                self.report.canary_rejected += len(ids)
        missing = self._wait_queryable(expected)
        self.report.canary_lost += len(missing)
        self.canary_ids += expected[:2]

    def _accepted(self, payload: Payload) -> bool:
        deadline = time.monotonic() + CANARY_WAIT_S
        while time.monotonic() < deadline:
            outcome = self._send(payload)
            if outcome.category == "ok":
                return True
            if outcome.category not in ("retry", "crash"):
                return False
            time.sleep(0.5)
        return False

    def _wait_queryable(self, run_ids_: list[str]) -> list[str]:
        """The run ids not found by the API within the wait."""
        missing = list(run_ids_)
        deadline = time.monotonic() + CANARY_WAIT_S
        while missing and time.monotonic() < deadline and self.collector.alive:
            missing = [r for r in missing if not self._found(r)]
            if missing:
                time.sleep(0.2)
        return missing

    def _found(self, run_id: str) -> bool:
        url = f"{self.collector.api_url}/api/v1/runs/{run_id}"
        try:
            with urllib.request.urlopen(url, timeout=self.settings.timeout_s) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False


def replay(payloads: list[Path], out: Path, timeout_s: float = 15.0) -> list[tuple[Path, str]]:
    """Send saved payloads one by one to a fresh collector; each path with its outcome
    (``crash (SIGSEGV)`` when the process died on it)."""
    results: list[tuple[Path, str]] = []
    with CollectorProcess(out) as collector:
        for path in payloads:
            if not collector.alive:
                collector.restart()
            payload = Payload.load(path)
            if payload.transport == GRPC:
                sender = GrpcSender(collector.grpc_address, timeout_s)
                outcome = sender.send(payload)
                sender.close()
            elif payload.transport == API:
                api = collector.api_url.removeprefix("http://")
                outcome = HttpSender(api, timeout_s).send_raw(payload.body)
            else:
                outcome = HttpSender(collector.http_address, timeout_s).send(payload)
            time.sleep(0.5)
            if not collector.alive:
                results.append((path, f"crash ({collector.exit_description})"))
            else:
                results.append((path, f"{outcome.category} ({outcome.status})"))
    return results
