"""mlspan in two minutes: ``make demo``.

Starts an mlspan collector (SQLite in ``.mlspan/demo``) in the background, trains the
churn model of ``churn_pipeline.py`` with the one-line ``instrument()``, scores five new
batches — three with drifted inputs, one whose churn reasons changed — with zero-code
``opentelemetry-instrument``; each scoring job logs its predictions by customer id and
records the churn labels that arrived meanwhile (``churn_outcomes.py``: some late, some
never). It then prints what the collector made of the spans: the lineage of the last
predictions file, the drift table with its insights, realised and estimated accuracy per
batch, and the alerts that fired (concept drift among them). Last, three versions of
the model ``churn`` are trained and two served as an A/B split (``demo_experiment.py``):
the registry's versions table, the diff of v2 and v3 and the experiment's verdict. The
collector keeps running for you to explore; ``make demo-stop`` (``python
examples/demo.py --stop``) stops it.

Ports and the data folder are options (or ``MLSPAN_DEMO_*`` variables), so a second demo
or a test can run beside a collector on the default ports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import demo_collector
import demo_experiment
from churn_outcomes import LABEL_DELIVERIES
from churn_pipeline import INFERENCE_BATCHES as BATCHES
from churn_pipeline import SERVICE_NAME
from demo_collector import DemoSettings

EXAMPLES = Path(__file__).resolve().parent
RESULTS_TIMEOUT_S = 60.0
WIDTH = 88


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Options, with ``MLSPAN_DEMO_*`` environment variables as defaults."""
    env = os.environ.get
    parser = argparse.ArgumentParser(description="Run the mlspan demo.")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(env("MLSPAN_DEMO_DIR", ".mlspan/demo"))
    )
    parser.add_argument("--grpc-port", type=int, default=int(env("MLSPAN_DEMO_GRPC_PORT", "4317")))
    parser.add_argument("--http-port", type=int, default=int(env("MLSPAN_DEMO_HTTP_PORT", "4318")))
    parser.add_argument("--api-port", type=int, default=int(env("MLSPAN_DEMO_API_PORT", "4319")))
    parser.add_argument("--stop", action="store_true", help="stop the demo collector and exit")
    return parser.parse_args(argv)


def heading(title: str) -> None:
    print(f"\n{title}\n{'─' * min(len(title), WIDTH)}", flush=True)


def step(text: str) -> None:
    print(f"▸ {text}", flush=True)


def indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in text.rstrip().splitlines())


def _run_pipeline(command: list[str], env: dict[str, str]) -> None:
    """Run one example entry point, show its output indented, fail on error."""
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.stdout.strip():
        print(indent(result.stdout), flush=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")


def _pipeline_env(settings: DemoSettings) -> dict[str, str]:
    """The variables both modes read: where the collector is, which service we are."""
    env = dict(os.environ)
    env.update(
        {
            "OTEL_SERVICE_NAME": SERVICE_NAME,
            "OTEL_EXPORTER_OTLP_ENDPOINT": settings.otlp_grpc,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            # Drift on the model as a whole; nested Pipeline steps keep their spans.
            "OTEL_INSTRUMENTATION_MLSPAN_NESTED_SUMMARIES": "false",
        }
    )
    return env


def run_pipeline(settings: DemoSettings, work: Path) -> tuple[Path, float]:
    """Train (one-line mode), then score each batch as its own job (zero-code mode).

    Returns the last predictions file and when its job started (unix seconds).
    """
    env = _pipeline_env(settings)
    python = sys.executable
    step("training: raw CSVs -> clean (pandas) -> scikit-learn Pipeline -> predictions")
    step("  mode: one line, mlspan.instrumentation.configure(...)")
    train = [python, str(EXAMPLES / "train.py"), "--data-dir", str(work), "--instrument"]
    _run_pipeline([*train, "--endpoint", settings.otlp_grpc], env)
    step("scoring new batches with the saved model, one scoring job per batch")
    step("  mode: zero code, opentelemetry-instrument python examples/infer.py --batch N")
    beside = Path(python).with_name("opentelemetry-instrument")
    instrument = str(beside) if beside.exists() else "opentelemetry-instrument"
    infer = [instrument, python, str(EXAMPLES / "infer.py"), "--data-dir", str(work)]
    last_started = time.time()
    for batch in range(len(BATCHES)):
        last_started = time.time()
        _run_pipeline([*infer, "--batch", str(batch)], env)
    return work / "predictions" / f"batch_{len(BATCHES) - 1}.csv", last_started


def mlspan(settings: DemoSettings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run an ``mlspan`` query command against the demo collector."""
    command = [*demo_collector.mlspan_command(), *args, "--api", settings.api]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)


def _linked(answer: object) -> bool:
    """The lineage answer reaches the fit (so the model's upstream is linked)."""
    return '"fit"' in json.dumps(answer)


def _results(answer: object) -> list[dict[str, Any]]:
    results = answer.get("results", []) if isinstance(answer, dict) else []
    return [result for result in results if isinstance(result, dict)]


def _drift_after(started: float) -> Callable[[object], bool]:
    """Drift has a window holding spans of the job that started at ``started``."""
    return lambda answer: any(r.get("window_end", 0) >= started for r in _results(answer))


def _firing_after(started: float) -> Callable[[object], bool]:
    """An alert started firing on results of the job that started at ``started``."""

    def ready(answer: object) -> bool:
        firing = answer.get("firing", []) if isinstance(answer, dict) else []
        return any(
            datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00")).timestamp() >= started
            for alert in firing
            if isinstance(alert, dict) and "startsAt" in alert
        )

    return ready


def wait_for(settings: DemoSettings, args: Sequence[str], ready: Callable[[object], bool]) -> bool:
    """Poll ``mlspan <args> --json`` until its answer satisfies ``ready``."""
    deadline = time.monotonic() + RESULTS_TIMEOUT_S
    while time.monotonic() < deadline:
        result = mlspan(settings, *args, "--json")
        if result.returncode == 0:
            try:
                if ready(json.loads(result.stdout)):
                    return True
            except json.JSONDecodeError:
                pass
        time.sleep(0.5)
    return False


def show(settings: DemoSettings, title: str, args: Sequence[str]) -> None:
    """Print one CLI answer under a heading, with the command that produced it."""
    heading(title)
    print(f"$ mlspan {' '.join(args)}", flush=True)
    result = mlspan(settings, *args)
    print(indent(result.stdout or result.stderr), flush=True)


def drift_history(settings: DemoSettings) -> None:
    """One line per closed window of the model, oldest first: how drift grew."""
    result = mlspan(settings, "drift", "--window", "history", "--json")
    if result.returncode != 0:
        return
    history = _results(json.loads(result.stdout))
    if not history:
        return
    # The model as a whole: the one whose windows have the most features.
    widest = max(history, key=lambda r: len(r.get("features", [])))
    key = (widest["model"], widest["version"])
    windows = sorted(
        (r for r in history if (r["model"], r["version"]) == key), key=lambda r: r["window_start"]
    )
    heading("Drift over the scoring jobs (one window each)")
    jobs = ["holdout", *(f"batch {index}" for index in range(len(BATCHES)))]
    for number, window in enumerate(windows):
        stamp = time.strftime("%H:%M:%S", time.localtime(window["window_start"]))
        job = jobs[number] if len(windows) == len(jobs) else stamp
        print(f"  {job:<8}  {window['insight']}")


def _performance_complete(answer: object) -> bool:
    """Every job's window is there, the last with its estimate, the last labels joined
    (batch 1's late ones) and the concept-drift alarm raised."""
    for result in _results(answer):
        windows = result.get("windows") or []
        concept = result.get("concept_drift") or {}
        if len(windows) < len(BATCHES) + 1 or not concept.get("alarm"):
            continue
        late = windows[2].get("label_coverage") or 0.0
        if windows[-1].get("estimated") and late >= max(share for *_, share in _deliveries(1)):
            return True
    return False


def _deliveries(batch: int) -> list[tuple[int, float, float]]:
    return [d for job in LABEL_DELIVERIES.values() for d in job if d[0] == batch]


def performance_by_batch(settings: DemoSettings) -> None:
    """Realised and estimated accuracy per scoring job, from the performance results."""
    result = mlspan(settings, "performance", "--json")
    if result.returncode != 0:
        return
    found = [r for r in _results(json.loads(result.stdout)) if len(r.get("windows", [])) > 1]
    if not found:
        return
    heading("Accuracy per scoring job: realised (labels so far) and estimated (no labels)")
    print(f"  {'JOB':<8}  {'LABELLED':>8}  {'REALISED':>8}  {'ESTIMATED':>9}")
    names = ["holdout", *(f"batch {index}" for index in range(len(BATCHES)))]
    for name, window in zip(names, found[0]["windows"], strict=False):
        realised = (window.get("metrics") or {}).get("accuracy")
        estimated = (window.get("estimated") or {}).get("accuracy")
        labelled = f"{window['label_coverage']:.0%}" if window.get("label_coverage") else "-"
        if name == "holdout":
            labelled = f"{window['count']:,}"
        note = ""
        if isinstance(realised, float) and isinstance(estimated, float):
            if estimated - realised > 0.05:
                note = "  <- far below the estimate: the churn reasons changed"
        elif isinstance(estimated, float):
            note = "  (no labels yet)"
        else:
            note = "  (validation outcomes: the estimates' reference)"
        cells = [_accuracy(realised), _accuracy(estimated)]
        print(f"  {name:<8}  {labelled:>8}  {cells[0]:>8}  {cells[1]:>9}{note}")


def _accuracy(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "-"


def report(settings: DemoSettings, final: Path, last_started: float) -> None:
    """Wait until the collector has processed everything, then print the four views."""
    step("waiting for the collector to link lineage and compute drift, performance and alerts")
    checks: tuple[tuple[str, list[str], Callable[[object], bool]], ...] = (
        ("lineage", ["trace", str(final)], _linked),
        ("drift", ["drift"], _drift_after(last_started)),
        ("performance", ["performance"], _performance_complete),
        ("alerts", ["alerts"], _firing_after(last_started)),
    )
    pending = [name for name, args, ready in checks if not wait_for(settings, args, ready)]
    if pending:
        step(f"not complete after {RESULTS_TIMEOUT_S:.0f} s: {', '.join(pending)}")
    show(settings, f"Lineage of {final}", ["trace", str(final)])
    drift_history(settings)
    show(settings, "Drift per feature in the latest window", ["drift"])
    show(settings, "Model performance per prediction window", ["performance", "--windows"])
    performance_by_batch(settings)
    show(settings, "Alerts", ["alerts"])


def footer(settings: DemoSettings, pid: int) -> None:
    heading(f"The collector keeps running (pid {pid})")
    rows = (
        ("OTLP/gRPC", settings.otlp_grpc),
        ("OTLP/HTTP", f"{settings.otlp_http}/v1/traces"),
        ("query API", f"{settings.api}/openapi.json"),
        ("metrics", f"{settings.api}/metrics"),
        ("data", f"{settings.data_dir} (SQLite store, collector.log)"),
        ("config", str(demo_collector.CONFIG)),
    )
    for name, value in rows:
        print(f"  {name:<10} {value}")
    print(f"\nTry: .venv/bin/mlspan recent --api {settings.api}")
    print(f"Stop it with: make demo-stop   (or: kill {pid})", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = DemoSettings(args.data_dir.resolve(), args.grpc_port, args.http_port, args.api_port)
    previous = demo_collector.stop(settings)
    if args.stop:
        print("stopped the demo collector" if previous else "no demo collector was running")
        return 0
    print(f"web UI, once the pipeline has run: {settings.api}/", flush=True)
    if previous is not None:
        step(f"stopped the previous demo collector (pid {previous})")
    started = time.monotonic()
    heading("mlspan demo: a churn model from raw CSVs to drift alerts")
    shutil.rmtree(settings.store_dir, ignore_errors=True)
    work = settings.data_dir / "pipeline"
    shutil.rmtree(work, ignore_errors=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    step(f"starting the collector (SQLite in {settings.store_dir})")
    try:
        pid = demo_collector.start(settings)
        final, last_started = run_pipeline(settings, work)
        report(settings, final, last_started)
        demo_experiment.run(settings, work, _pipeline_env(settings), _run_pipeline, show, step)
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        demo_collector.stop(settings)
        print(f"\ndemo failed: {error}", file=sys.stderr)
        return 1
    footer(settings, pid)
    print(f"\n(demo took {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
