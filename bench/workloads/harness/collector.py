"""A real ``mlspan collector`` process for the workload runner, and its HTTP answers.

The collector runs with built-in defaults except for its addresses and data folder:
every listener on 127.0.0.1 with a free port (port 0; the start-up banner names the
bound addresses) and a data folder of the runner's own. ``metrics()`` reads the ingest
counters from ``/metrics``; ``get()`` answers query-API paths as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class IngestCounters:
    """The collector's ingest counters at one moment (sums over receivers)."""

    spans_received: float = 0.0
    requests_rejected: dict[str, float] = field(default_factory=dict)
    spans_dropped: dict[str, float] = field(default_factory=dict)

    def since(self, earlier: IngestCounters) -> IngestCounters:
        """What changed since ``earlier``; reasons that did not change are left out."""

        def grown(now: dict[str, float], before: dict[str, float]) -> dict[str, float]:
            return {k: v - before.get(k, 0.0) for k, v in now.items() if v != before.get(k, 0.0)}

        return IngestCounters(
            self.spans_received - earlier.spans_received,
            grown(self.requests_rejected, earlier.requests_rejected),
            grown(self.spans_dropped, earlier.spans_dropped),
        )


def reference_path(reference: str) -> str:
    """A run id, artifact id or path as one percent-encoded path segment."""
    return urllib.parse.quote(reference, safe="")


class CollectorProcess:
    """``mlspan collector`` on loopback with free ports; stopped with SIGTERM on exit."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.grpc_address = ""
        self.api_url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """The ``mlspan`` console script of this interpreter's environment."""
        script = shutil.which("mlspan", path=str(Path(sys.executable).parent))
        launcher = [script] if script else [sys.executable, "-m", "mlspan.collector.cli.main"]
        return [
            *launcher,
            "collector",
            "--grpc-endpoint",
            "127.0.0.1:0",
            "--http-endpoint",
            "127.0.0.1:0",
            "--api-endpoint",
            "127.0.0.1:0",
            "--data-dir",
            str(self.folder / "data"),
            "--log-level",
            "WARNING",
        ]

    def __enter__(self) -> CollectorProcess:
        self.folder.mkdir(parents=True, exist_ok=True)
        banner = self.folder / "collector.out"
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("OTEL_", "MLSPAN_"))
        }
        with banner.open("wb") as out, (self.folder / "collector.log").open("wb") as log:
            self._process = subprocess.Popen(
                self.command(), stdout=out, stderr=log, env=environment, cwd=self.folder
            )
        try:
            self._read_banner(banner)
        except BaseException:
            self.stop()
            raise
        return self

    def _read_banner(self, banner: Path) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            text = banner.read_text(encoding="utf-8", errors="replace")
            for line in text.splitlines():
                if "OTLP/gRPC" in line:
                    self.grpc_address = line.split()[-1]
                if "query API:" in line:
                    self.api_url = line.split("query API:")[1].split()[0]
            if "data folder" in text and self.grpc_address and self.api_url:
                return
            if self._process.poll() is not None:
                break
            time.sleep(0.1)
        log = (self.folder / "collector.log").read_text(encoding="utf-8", errors="replace")
        raise RuntimeError(f"mlspan collector did not start: {log[-2000:]}")

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    @property
    def otlp_endpoint(self) -> str:
        """The gRPC receiver as ``OTEL_EXPORTER_OTLP_ENDPOINT`` names it."""
        return f"http://{self.grpc_address}"

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def get(self, path: str) -> Any:
        """The query API's JSON answer for ``path`` (e.g. ``/api/v1/runs?limit=5``)."""
        with urllib.request.urlopen(self.api_url + path, timeout=60) as response:
            return json.loads(response.read())

    def metrics(self) -> IngestCounters:
        """Spans received, requests rejected and spans dropped, from ``/metrics``."""
        with urllib.request.urlopen(self.api_url + "/metrics", timeout=30) as response:
            text = response.read().decode()
        received = 0.0
        rejected: dict[str, float] = {}
        dropped: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "mlspan_spans_received_total":
                    received += sample.value
                elif sample.name == "mlspan_requests_rejected_total":
                    reason = sample.labels.get("reason", "")
                    rejected[reason] = rejected.get(reason, 0.0) + sample.value
                elif sample.name == "mlspan_spans_dropped_total":
                    reason = sample.labels.get("reason", "")
                    dropped[reason] = dropped.get(reason, 0.0) + sample.value
        return IngestCounters(received, rejected, dropped)

    def cpu_ticks(self) -> int:
        """CPU clock ticks the collector has used so far (Linux ``/proc``; 0 elsewhere)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0
        return int(fields[11]) + int(fields[12])  # utime, stime

    def wait_idle(self, quiet_s: float = 1.0, timeout_s: float = 120.0) -> float:
        """Wait until the collector used under 5 % of a CPU for ``quiet_s``; seconds waited.

        Called after each instrumented run so that the collector's ingest work (lineage
        writes, drift) does not spill into the next, possibly plain, run's time.
        """
        start = time.monotonic()
        ticks_per_s = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        while time.monotonic() - start < timeout_s:
            before = self.cpu_ticks()
            time.sleep(quiet_s)
            if self.cpu_ticks() - before <= 0.05 * quiet_s * ticks_per_s:
                break
        return time.monotonic() - start

    def stop(self) -> int | None:
        """SIGTERM (graceful drain), then SIGKILL after a timeout; the exit status."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
        return process.returncode

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def api_error(exc: Exception) -> str:
    """A query failure in one line, with the API's message when it sent one."""
    if isinstance(exc, urllib.error.HTTPError):
        try:
            body = json.loads(exc.read())
            return f"HTTP {exc.code}: {body['error']['message']}"
        except (ValueError, KeyError, TypeError):
            return f"HTTP {exc.code}"
    return f"{type(exc).__name__}: {exc}"
