"""Running a Python program under ``opentelemetry-instrument`` against a test receiver.

The zero-code path as users run it: the OpenTelemetry launcher of this environment, the
OTLP/gRPC exporter pointed at a receiver on 127.0.0.1, metrics and logs off, and none of
the test process's own ``OTEL_*`` settings.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def clean_environment() -> dict[str, str]:
    """The test process's environment without OpenTelemetry settings of its own."""
    return {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}


def run_instrumented(
    arguments: Sequence[str],
    *,
    cwd: Path,
    grpc_endpoint: str,
    service: str,
    extra: Mapping[str, str] | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    """``opentelemetry-instrument python ARGUMENTS...`` exporting to ``grpc_endpoint``."""
    launcher = Path(sys.executable).parent / "opentelemetry-instrument"
    assert launcher.exists(), launcher
    environment = clean_environment() | {
        "OTEL_SERVICE_NAME": service,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{grpc_endpoint}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        **(extra or {}),
    }
    return subprocess.run(
        [str(launcher), sys.executable, *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
