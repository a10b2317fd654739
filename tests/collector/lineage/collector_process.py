"""A real ``mlspan collector`` process with lineage, for crash and poisoning tests.

The process runs from a YAML file on fixed 127.0.0.1 ports (free ones picked once, so
clients reconnect to the same address after a restart), is started again on the same
data folder, and can be killed with SIGKILL or stopped with SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from mlspan.collector.lineage import extract
from mlspan.collector.pdata import FastSchema, TraceBatch
from tests.support.otlp_sink import free_port

START_TIMEOUT_S = 90.0


def lineage_config(
    folder: Path, lineage: dict[str, Any] | None = None, api: bool = False
) -> dict[str, Any]:
    """A collector with OTLP/gRPC and OTLP/HTTP receivers and only the lineage processor."""
    return {
        "data_dir": str(folder / "data"),
        "api": {"endpoint": f"127.0.0.1:{free_port()}"} if api else {"enabled": False},
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"127.0.0.1:{free_port()}"},
                    "http": {"endpoint": f"127.0.0.1:{free_port()}"},
                }
            }
        },
        "processors": {"lineage": lineage or {}},
        "service": {"pipelines": {"traces": {"receivers": ["otlp"], "processors": ["lineage"]}}},
    }


class CollectorProcess:
    """``python -m mlspan.collector.cli.main collector --config FILE``, restartable."""

    def __init__(self, folder: Path, document: dict[str, Any]) -> None:
        self.folder = folder
        self.document = document
        self.config = folder / "collector.yaml"
        self.config.write_text(yaml.safe_dump(document))
        protocols = document["receivers"]["otlp"]["protocols"]
        self.grpc_endpoint: str = protocols["grpc"]["endpoint"]
        self.http_endpoint: str = protocols["http"]["endpoint"]
        api = document.get("api", {})
        self.api_url = f"http://{api['endpoint']}" if "endpoint" in api else ""
        self.data_dir = Path(document["data_dir"])
        self.process: subprocess.Popen[str] | None = None
        self.starts = 0

    def start(self) -> None:
        """Start and wait for the banner (printed once start-up, replay included, is
        done)."""
        assert self.process is None
        self.starts += 1
        log = (self.folder / f"collector-{self.starts}.log").open("w")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlspan.collector.cli.main",
                "collector",
                "--config",
                str(self.config),
                "--log-level",
                "INFO",
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith(("MLSPAN_", "OTEL_"))},
        )
        log.close()
        self.process = process
        assert process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            if "data folder" in line:
                return
        self.stop(signal.SIGKILL)
        raise AssertionError(f"collector did not start: {self.log(self.starts)[-3000:]}")

    def log(self, start: int) -> str:
        """The stderr of the ``start``-th run."""
        return (self.folder / f"collector-{start}.log").read_text()

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send ``sig`` and wait for the exit; the exit code."""
        process = self.process
        assert process is not None
        self.process = None
        if process.poll() is None:
            process.send_signal(sig)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
        return code

    def close(self) -> None:
        """Kill the process if it still runs (test clean-up)."""
        if self.process is not None:
            self.stop(signal.SIGKILL)


SCHEMA = FastSchema.build()


def run_ids(body: bytes) -> set[str]:
    """The runs lineage must record for one request (the spans it reads as runs)."""
    return {run.run_id for run in extract(TraceBatch.from_bytes(SCHEMA, body)).runs}
