"""Starting, finding and stopping the demo's mlspan collector as a background process.

The demo collector keeps its SQLite store, its log and its pid file in one
data folder (``.mlspan/demo`` by default), so ``demo.py --stop`` (``make demo-stop``)
finds it again from another shell.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
CONFIG = Path(__file__).with_name("demo-collector.yaml")
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class DemoSettings:
    """Where the demo collector listens and keeps its data."""

    data_dir: Path
    grpc_port: int
    http_port: int
    api_port: int

    @property
    def otlp_grpc(self) -> str:
        return f"http://{HOST}:{self.grpc_port}"

    @property
    def otlp_http(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    @property
    def api(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "collector.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "collector.log"

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"


def mlspan_command() -> list[str]:
    """The ``mlspan`` command of the running interpreter's environment."""
    script = Path(sys.executable).with_name("mlspan")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "mlspan.collector.cli.main"]


def alive(pid: int) -> bool:
    """True while process ``pid`` runs (an exited one waiting to be reaped does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def running_pid(settings: DemoSettings) -> int | None:
    """The pid of the demo collector recorded in the data folder, if it still runs."""
    try:
        pid = int(settings.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) else None


def stop(settings: DemoSettings) -> int | None:
    """Stop the recorded demo collector (SIGTERM, then SIGKILL); return its pid."""
    pid = running_pid(settings)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.1)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
            _reap(pid)
    settings.pid_file.unlink(missing_ok=True)
    return pid


def _reap(pid: int) -> None:
    """Collect the exit status when the collector is our own child (tests, one shell)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        # As servers do: connections of a stopped collector in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def collector_arguments(settings: DemoSettings) -> list[str]:
    """``mlspan collector`` options: the demo config, with this data folder and ports."""
    return [
        "--config",
        str(CONFIG),
        "--data-dir",
        str(settings.store_dir),
        "--grpc-endpoint",
        f"{HOST}:{settings.grpc_port}",
        "--http-endpoint",
        f"{HOST}:{settings.http_port}",
        "--api-endpoint",
        f"{HOST}:{settings.api_port}",
    ]


def start(settings: DemoSettings) -> int:
    """Start a fresh collector in the background and wait until it is ready; its pid.

    The process gets its own session, so it keeps running after the demo exits.
    """
    busy = [
        port
        for port in (settings.grpc_port, settings.http_port, settings.api_port)
        if not _port_free(port)
    ]
    if busy:
        raise RuntimeError(
            f"port(s) {', '.join(map(str, busy))} on {HOST} are in use: stop what listens "
            "there, or choose other ports with --grpc-port/--http-port/--api-port "
            "(MLSPAN_DEMO_GRPC_PORT, MLSPAN_DEMO_HTTP_PORT, MLSPAN_DEMO_API_PORT)"
        )
    settings.store_dir.mkdir(parents=True, exist_ok=True)
    with settings.log_file.open("wb") as log:
        process = subprocess.Popen(
            [*mlspan_command(), "collector", *collector_arguments(settings)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    settings.pid_file.write_text(f"{process.pid}\n")
    _wait_ready(settings, process)
    return process.pid


def _wait_ready(settings: DemoSettings, process: subprocess.Popen[bytes]) -> None:
    """Poll the query API's /metrics and the OTLP ports until all answer."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            settings.pid_file.unlink(missing_ok=True)
            raise RuntimeError(
                f"the collector exited with status {process.returncode}; its log "
                f"({settings.log_file}):\n{settings.log_file.read_text()}"
            )
        if _http_ok(f"{settings.api}/metrics") and all(
            _accepts(port) for port in (settings.grpc_port, settings.http_port)
        ):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the collector was not ready after {READY_TIMEOUT_S:.0f} s")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
