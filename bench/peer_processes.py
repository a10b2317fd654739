"""Processes of the peer-suite runs: one measured pytest subprocess, and the collector.

``bench/peer_suites.py`` drives these. A pytest run gets its own folder (cwd, log,
``--basetemp`` and outcomes file) and is measured with ``os.wait4``; the collector is a
real ``mlspan collector`` subprocess on free loopback ports with its own data folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ONE_THREAD: Final = {
    name: "1"
    for name in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "BLIS_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    )
}
SKLEARN_INI: Final = "[pytest]\naddopts = --import-mode=importlib\n"
"""scikit-learn's pytest options that matter here (its pyproject is not in the wheel)."""
RUN_TIMEOUT_S: Final = 3600.0
"""A pytest run still going after this is killed (and reported as a runner error)."""
READY_TIMEOUT_S: Final = 90.0
"""How long the collector may take to answer on /metrics and accept gRPC connections."""


class PeerSuiteError(RuntimeError):
    """A pytest run or the collector did not work (not a difference in outcomes)."""


@dataclass(frozen=True)
class Run:
    """One pytest subprocess: its resources and the outcome of each test by node id."""

    cpu_s: float
    wall_s: float
    outcomes: dict[str, str]
    spans: int = 0


def pytest_args(module: str, folder: Path, keyword: str | None) -> tuple[list[str], dict[str, str]]:
    """The pytest arguments and extra environment that run ``module`` under its own config.

    The module is passed as a file path rather than with ``--pyargs``, so that pytest
    loads the package's conftest before parsing options (pandas' ``--no-strict-data-files``
    is defined there) and finds pandas' configuration next to it.
    """
    package, _, rest = module.partition(".")
    spec = importlib.util.find_spec(package)  # the top-level package only: nothing imported
    if spec is None or not spec.submodule_search_locations:
        raise PeerSuiteError(f"{package} is not installed")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    path = package_dir.joinpath(*rest.split(".")).with_suffix(".py")
    if not path.is_file():
        raise PeerSuiteError(f"{module}: no test module at {path}")
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(path)]
    env: dict[str, str] = {}
    if package == "pandas":
        args += ["-c", str(package_dir / "pyproject.toml"), "--no-strict-data-files"]
        args += ["-m", "not network and not db"]
    elif package == "sklearn":
        ini = folder / "sklearn-pytest.ini"
        ini.write_text(SKLEARN_INI, encoding="utf-8")
        args += ["-c", str(ini), "--rootdir", str(package_dir.parent)]
        args += ["-W", "ignore::pytest.PytestRemovedIn10Warning"]
        env["SKLEARN_WARNINGS_AS_ERRORS"] = "1"
    if keyword:
        args += ["-k", keyword]
    return args, env


def run_pytest(
    args: list[str], env: dict[str, str], folder: Path, timeout_s: float = RUN_TIMEOUT_S
) -> Run:
    """Run one pytest in ``folder`` (its cwd, log, basetemp and outcomes file) and measure it."""
    folder.mkdir(parents=True)
    outcomes_path = folder / "outcomes.json"
    log_path = folder / "pytest.log"
    command = [*args, f"--basetemp={folder / 'tmp'}", f"--mlspan-outcomes={outcomes_path}"]
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=log)
    watchdog = threading.Timer(timeout_s, process.kill)
    watchdog.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        watchdog.cancel()
    wall_s = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1) or not outcomes_path.is_file():
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise PeerSuiteError(f"pytest exited with {process.returncode}: {command}\n{tail}")
    document = json.loads(outcomes_path.read_text(encoding="utf-8"))
    return Run(usage.ru_utime + usage.ru_stime, wall_s, dict(document["outcomes"]))


def child_environment() -> dict[str, str]:
    """The environment of both sides: one thread, fixed hashing, no inherited mlspan switch."""
    env = {k: v for k, v in os.environ.items() if k not in {"MLSPAN_PYTEST", "PYTEST_ADDOPTS"}}
    env.update(ONE_THREAD)
    env["PYTHONHASHSEED"] = "0"
    return env


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Collector:
    """A running ``mlspan collector`` subprocess: its OTLP/gRPC endpoint and its /metrics."""

    grpc_endpoint: str
    metrics_url: str

    def counters(self) -> dict[str, float]:
        """Sums of the collector's ``*_total`` counters, by name, from /metrics."""
        with urllib.request.urlopen(self.metrics_url, timeout=10) as response:
            text = response.read().decode("utf-8")
        sums: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if name.endswith("_total"):
                sums[name] = sums.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
        return sums

    def spans_received(self) -> int:
        """``mlspan_spans_received_total`` over every receiver, once it stops moving."""
        last = -1.0
        for _ in range(50):
            now = self.counters().get("mlspan_spans_received_total", 0.0)
            if now == last:
                break
            last = now
            time.sleep(0.2)
        return int(last)


@contextmanager
def running_collector(folder: Path) -> Iterator[Collector]:
    """Start ``mlspan collector`` on free loopback ports, yield it once ready, stop it."""
    folder.mkdir(parents=True)
    grpc_port, http_port, api_port = free_port(), free_port(), free_port()
    command = [sys.executable, "-m", "mlspan.collector.cli.main", "collector"]
    command += ["--data-dir", str(folder / "data"), "--log-level", "WARNING"]
    command += ["--grpc-endpoint", f"127.0.0.1:{grpc_port}"]
    command += ["--http-endpoint", f"127.0.0.1:{http_port}"]
    command += ["--api-endpoint", f"127.0.0.1:{api_port}"]
    log_path = folder / "collector.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=folder, stdout=log, stderr=log)
    collector = Collector(f"http://127.0.0.1:{grpc_port}", f"http://127.0.0.1:{api_port}/metrics")
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(collector, grpc_port):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
                raise PeerSuiteError(f"the collector did not start: {tail}")
            time.sleep(0.25)
        yield collector
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


def _ready(collector: Collector, grpc_port: int) -> bool:
    try:
        collector.counters()
        with socket.create_connection(("127.0.0.1", grpc_port), timeout=2):
            return True
    except OSError:
        return False
