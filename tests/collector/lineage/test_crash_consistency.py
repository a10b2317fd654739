"""The delivery promise under SIGKILL: acknowledged lineage survives the collector dying.

A real collector process ingests from real OTLP clients (gRPC and HTTP, several threads)
and is killed with SIGKILL five times mid-ingest, each time restarted on the same data
folder. Clients remember the run ids of every request the collector acknowledged; after
the last kill and one more start (the write-ahead log is replayed before the banner),
every one of those runs must be in the store.
"""

from __future__ import annotations

import itertools
import signal
import threading
import time
from pathlib import Path

import grpc
import pytest

from mlspan.collector.store import SqliteStore, open_store
from tests.collector.lineage.collector_process import CollectorProcess, lineage_config, run_ids
from tests.support.otlp_client import grpc_export, http_post
from tests.support.spans import request_bytes

pytestmark = pytest.mark.slow

KILLS = 5
SPANS_PER_REQUEST = 128
GRPC_CLIENTS = 2
HTTP_CLIENTS = 1


class Clients:
    """OTLP clients sending fresh requests until stopped, recording what was acked."""

    def __init__(self, collector: CollectorProcess) -> None:
        self._collector = collector
        self._seeds = itertools.count(1)
        self._lock = threading.Lock()
        self.acked: set[str] = set()
        self.acked_requests = 0
        self.failed_requests = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._grpc_client, daemon=True) for _ in range(GRPC_CLIENTS)
        ] + [threading.Thread(target=self._http_client, daemon=True) for _ in range(HTTP_CLIENTS)]

    def _body(self) -> tuple[bytes, set[str]]:
        with self._lock:
            seed = next(self._seeds)
        body = request_bytes(SPANS_PER_REQUEST, seed=seed, service=f"client-{seed % 4}")
        return body, run_ids(body)

    def _record(self, ok: bool, runs: set[str]) -> None:
        with self._lock:
            if ok:
                self.acked |= runs
                self.acked_requests += 1
            else:
                self.failed_requests += 1

    def _grpc_client(self) -> None:
        channel = grpc.insecure_channel(self._collector.grpc_endpoint)
        while not self._stop.is_set():
            body, runs = self._body()
            try:
                grpc_export(channel, body, timeout=10)
            except grpc.RpcError:
                self._record(False, runs)
                channel.close()  # a fresh channel reconnects at once after a restart
                time.sleep(0.05)
                channel = grpc.insecure_channel(self._collector.grpc_endpoint)
                continue
            self._record(True, runs)
        channel.close()

    def _http_client(self) -> None:
        while not self._stop.is_set():
            body, runs = self._body()
            try:
                answer = http_post(self._collector.http_endpoint, body, timeout=10)
            except OSError:
                self._record(False, runs)
                time.sleep(0.05)
                continue
            self._record(answer.status == 200, runs)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def acked_count(self) -> int:
        with self._lock:
            return self.acked_requests


def _wait_for_acks(clients: Clients, more: int, timeout: float = 60.0) -> None:
    """Block until ``more`` further requests were acknowledged."""
    target = clients.acked_count() + more
    deadline = time.monotonic() + timeout
    while clients.acked_count() < target:
        assert time.monotonic() < deadline, "clients made no progress"
        time.sleep(0.02)


def _stored(data_dir: Path, run_ids: set[str]) -> set[str]:
    store = open_store(data_dir)
    assert isinstance(store, SqliteStore)
    try:
        return set(store.runs(run_ids))
    finally:
        store.close()


@pytest.mark.timeout(900)  # seven collector start-ups on a shared, busy machine
def test_sigkill_mid_ingest_loses_no_acknowledged_lineage(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path, lineage_config(tmp_path))
    clients = Clients(collector)
    replayed: list[str] = []
    try:
        collector.start()
        clients.start()
        for kill in range(KILLS):
            # Mid-ingest: clients are sending and the writer has a backlog.
            _wait_for_acks(clients, 12 + 4 * kill)
            collector.stop(signal.SIGKILL)
            time.sleep(0.2)  # clients see the refusals
            collector.start()
            replayed.append(collector.log(collector.starts))
        _wait_for_acks(clients, 8)
        clients.stop()
        collector.stop(signal.SIGKILL)
        collector.start()  # replays the log before printing the banner
        stored = _stored(collector.data_dir, clients.acked)
        collector.stop(signal.SIGTERM)
    finally:
        clients.stop()
        collector.close()
    missing = clients.acked - stored
    assert clients.acked_requests >= 60
    assert not missing, (
        f"{len(missing)} of {len(clients.acked)} acknowledged runs missing after {KILLS + 1} kills"
    )
    # The log did work: at least one restart found acknowledged requests not yet
    # committed and replayed them.
    assert any("replayed" in log for log in replayed), replayed[-1][-2000:]
