"""pytest plugin: run any test suite with mlspan's instrumentation on.

Usage::

    pytest --mlspan --mlspan-endpoint http://127.0.0.1:4317 tests/
    MLSPAN_PYTEST=1 OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 pytest tests/
    pytest --mlspan-outcomes outcomes.json tests/          # outcomes only, no spans

The plugin is registered under the ``pytest11`` entry point ``mlspan``, so it is loaded
by every pytest run in an environment where mlspan is installed. Without ``--mlspan``
(or ``MLSPAN_PYTEST=1``) it does nothing; ``-p no:mlspan`` keeps it out entirely.

With it, ``pytest_configure`` calls ``mlspan.instrumentation.configure`` (a
TracerProvider exporting over OTLP, scikit-learn and pandas instrumented), so every
estimator and pandas call the tests make is really recorded, encoded and exported, and
``pytest_unconfigure`` removes the wrappers and shuts the provider down (which flushes
the spans still queued). Running a project's own test suite this way is a check that
the instrumentation never changes what user code observes: outcomes must not differ
from a plain run.

``--mlspan-outcomes PATH`` (with or without ``--mlspan``) writes every test's outcome
(``passed``, ``failed``, ``skipped``, ``xfailed``, ``xpassed``, ``error``) by node id
to a JSON file, so plain and instrumented runs can be compared test by test.

The plugin never changes outcomes by itself: its setup runs with warnings silenced
(suites such as pandas' run with every warning as an error), it adds no fixtures or
markers, and its outcome recorder only reads reports. Nothing heavy is imported unless
``--mlspan`` is given.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

ENABLE_ENV: Final = "MLSPAN_PYTEST"
"""Environment variable that turns the plugin on like ``--mlspan`` (``1``/``true``)."""
DEFAULT_SERVICE_NAME: Final = "pytest"
"""Service name when neither ``--mlspan-service-name`` nor ``OTEL_SERVICE_NAME`` is set."""
OUTCOMES_FORMAT: Final = 1
"""Version of the outcomes file layout: ``{"format", "exitstatus", "outcomes"}``."""

_logger = logging.getLogger(__name__)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--mlspan`` and its companions."""
    group = parser.getgroup("mlspan", "mlspan instrumentation")
    group.addoption(
        "--mlspan",
        action="store_true",
        default=False,
        help=f"instrument scikit-learn and pandas with mlspan for this run (env {ENABLE_ENV}=1)",
    )
    group.addoption(
        "--mlspan-endpoint",
        default=None,
        help="OTLP endpoint of the collector (default: OTEL_EXPORTER_OTLP_ENDPOINT)",
    )
    group.addoption(
        "--mlspan-protocol",
        choices=("grpc", "http/protobuf"),
        default=None,
        help="OTLP protocol (default: OTEL_EXPORTER_OTLP_PROTOCOL, else grpc)",
    )
    group.addoption(
        "--mlspan-service-name",
        default=None,
        help=f"service.name of the spans (default: OTEL_SERVICE_NAME, else {DEFAULT_SERVICE_NAME})",
    )
    group.addoption(
        "--mlspan-outcomes",
        default=None,
        metavar="PATH",
        help="write each test's outcome by node id to this JSON file (also without --mlspan)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Instrument when asked, and start recording outcomes when a file is given."""
    outcomes_path = config.getoption("mlspan_outcomes")
    if outcomes_path and not hasattr(config, "workerinput"):  # pytest-xdist: the controller writes
        path = config.invocation_params.dir / outcomes_path  # relative to where pytest started
        config.pluginmanager.register(OutcomeRecorder(path), "mlspan-outcomes")
    if is_enabled(config):
        config.pluginmanager.register(InstrumentedRun.start(config), "mlspan-instrumented-run")


def is_enabled(config: pytest.Config) -> bool:
    """Whether ``--mlspan`` was given or ``MLSPAN_PYTEST`` is set to a true value."""
    if config.getoption("mlspan"):
        return True
    return os.environ.get(ENABLE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


class InstrumentedRun:
    """The TracerProvider of an instrumented test run; shut down at ``pytest_unconfigure``."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider

    @classmethod
    def start(cls, config: pytest.Config) -> InstrumentedRun:
        """Configure the OTLP export and instrument scikit-learn and pandas.

        Warnings raised while setting up (imports of the SDK and the exporters) are
        silenced: they are mlspan's, and a suite that turns warnings into errors must
        not see them. A setup that fails stops the run with a usage error rather than
        running the suite uninstrumented.
        """
        from mlspan.instrumentation import configure

        service_name = (
            config.getoption("mlspan_service_name")
            or os.environ.get("OTEL_SERVICE_NAME")
            or DEFAULT_SERVICE_NAME
        )
        protocol = (
            config.getoption("mlspan_protocol")
            or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "grpc"
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                provider = configure(
                    service_name=service_name,
                    endpoint=config.getoption("mlspan_endpoint"),
                    protocol=protocol,
                )
        except Exception as exc:  # report any setup failure as a usage error
            raise pytest.UsageError(f"--mlspan: could not configure mlspan: {exc}") from exc
        return cls(provider)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Remove the wrappers (emitting pending online summaries) and flush the spans."""
        from mlspan.instrumentation import uninstrument

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                uninstrument()
                self._provider.shutdown()
        except Exception:  # the run is over: log, never turn it into a failure
            _logger.exception("mlspan: shutting the instrumentation down failed")


class OutcomeRecorder:
    """Collect one outcome per test node id and write them at the end of the session."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._outcomes: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Fold the setup, call and teardown reports of a test into one outcome."""
        outcome = report_outcome(report)
        if outcome is None:
            return
        if report.when == "teardown" and outcome != "error":
            return  # a skipped teardown keeps the setup/call outcome
        self._outcomes[report.nodeid] = outcome

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A module that fails to import is one ``error`` under its own node id."""
        if report.failed:
            self._outcomes[report.nodeid] = "error"

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Write ``{"format", "exitstatus", "outcomes"}`` as JSON."""
        document = {
            "format": OUTCOMES_FORMAT,
            "exitstatus": int(exitstatus),
            "outcomes": dict(sorted(self._outcomes.items())),
        }
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._path.write_text(json.dumps(document, indent=1), encoding="utf-8")
        except OSError:
            _logger.exception("mlspan: could not write test outcomes to %s", self._path)


def report_outcome(report: pytest.TestReport) -> str | None:
    """The outcome a report stands for, or None for a passing setup or teardown."""
    xfail_reason = getattr(report, "wasxfail", None)
    if report.when in {"setup", "teardown"}:
        if report.failed:
            return "error"
        if report.skipped:
            return "xfailed" if xfail_reason is not None else "skipped"
        return None
    if report.passed:
        return "xpassed" if xfail_reason is not None else "passed"
    if report.skipped:
        return "xfailed" if xfail_reason is not None else "skipped"
    return "failed"
