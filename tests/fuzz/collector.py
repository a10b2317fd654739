"""A real ``mlspan collector`` process on 127.0.0.1 for fuzzing.

Started with the built-in default pipeline (``otlp`` receiver, ``lineage``, ``drift``,
``alerts``: what a user gets from ``mlspan collector``), or that pipeline forwarding to an
OTLP backend as well (``forwarding_document``), on port 0 everywhere, in its own data
folder; the bound addresses are read from its start-up banner. The harness watches
it from outside: whether it is alive, how it died (a signal such as SIGSEGV shows as a
negative return code), and its resident memory from ``/proc``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

import yaml

START_TIMEOUT_S: Final = 90.0
_BANNER: Final = {
    "grpc": re.compile(r"OTLP/gRPC\s+\S+:\s+(\S+)"),
    "http": re.compile(r"OTLP/HTTP\s+\S+:\s+http://(\S+)/v1/traces"),
    "api": re.compile(r"query API:\s+(http://\S+)"),
}


def forwarding_document(backend: str) -> dict[str, Any]:
    """The default configuration plus an ``otlp`` exporter to ``backend`` (gRPC) with a
    small queue and quick retries, so a backend outage soon fills the queue and the
    receivers answer with back-pressure (RESOURCE_EXHAUSTED, 429/503)."""
    from mlspan.collector.config.loader import default_document
    from mlspan.collector.service.factories import default_factories

    document = default_document(default_factories())
    document["exporters"]["otlp/backend"] = {
        "endpoint": backend,
        "sending_queue": {"queue_size": 16, "num_consumers": 1},
        "retry_on_failure": {"initial_interval": 0.1, "max_interval": 0.5},
    }
    document["service"]["pipelines"]["traces"]["exporters"].append("otlp/backend")
    return document


def _die_with_parent() -> list[str]:
    """A command prefix that makes the child get SIGTERM when the fuzzing process goes
    away (util-linux ``setpriv``; none where it is missing)."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


class CollectorDied(RuntimeError):
    """The collector exited while it should have been running."""


class CollectorProcess:
    """``mlspan collector`` as a child process, restartable in the same folder."""

    def __init__(
        self, folder: Path, document: dict[str, Any] | None = None, log_level: str = "WARNING"
    ) -> None:
        self.folder = folder
        self.document = document
        """Configuration written to ``config.yaml``; None: the built-in defaults."""
        self.log_level = log_level
        self.process: subprocess.Popen[bytes] | None = None
        self.grpc_address = ""
        self.http_address = ""
        self.api_url = ""
        self.starts = 0

    @property
    def log_path(self) -> Path:
        """stderr of the current process (logging and any native crash report)."""
        return self.folder / f"collector-{self.starts}.log"

    def start(self) -> CollectorProcess:
        """Start and wait for the banner naming the bound addresses."""
        self.starts += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        out_path = self.folder / f"collector-{self.starts}.out"
        args = [
            *_die_with_parent(),
            sys.executable,
            "-X",
            "faulthandler",
            "-m",
            "mlspan.collector.cli.main",
            "collector",
            "--data-dir",
            str(self.folder / "data"),
            "--grpc-endpoint",
            "127.0.0.1:0",
            "--http-endpoint",
            "127.0.0.1:0",
            "--api-endpoint",
            "127.0.0.1:0",
            "--log-level",
            self.log_level,
        ]
        if self.document is not None:
            config = self.folder / "config.yaml"
            config.write_text(yaml.safe_dump(self.document))
            args += ["--config", str(config)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MLSPAN_"))}
        with out_path.open("wb") as out, self.log_path.open("wb") as err:
            self.process = subprocess.Popen(args, stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            text = out_path.read_text(errors="replace")
            if "data folder:" in text:
                self.grpc_address = self._match("grpc", text)
                self.http_address = self._match("http", text)
                self.api_url = self._match("api", text)
                return self
            if self.process.poll() is not None:
                raise CollectorDied(f"collector exited at start: {self.log_tail()}")
            time.sleep(0.1)
        self.stop()
        raise CollectorDied("collector did not start in time")

    @staticmethod
    def _match(name: str, text: str) -> str:
        found = _BANNER[name].search(text)
        if found is None:
            raise CollectorDied(f"no {name} address in the banner: {text!r}")
        return found.group(1)

    @property
    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process is not None and self.process.poll() is None

    @property
    def exit_description(self) -> str:
        """How the process ended: ``SIGSEGV``, ``exit 1``, or ``running``."""
        if self.process is None or self.process.poll() is None:
            return "running"
        code = self.process.returncode
        if code < 0:
            return signal.Signals(-code).name
        return f"exit {code}"

    def rss_bytes(self) -> int:
        """Resident set size of the process (0 when it is gone)."""
        if not self.alive or self.process is None:
            return 0
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        return int(found.group(1)) * 1024 if found else 0

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the current process's log."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def dump_and_kill(self) -> None:
        """SIGABRT: Python's fault handler writes every thread's stack to the log (where
        an unresponsive process is stuck), then the process ends."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGABRT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s; safe to call more than once."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)

    def restart(self) -> None:
        """Start a new process on the same data folder (after a crash)."""
        self.stop()
        self.start()

    def __enter__(self) -> CollectorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
