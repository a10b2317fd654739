"""``mlspan collector``: run the collector, or check a configuration file.

    mlspan collector                          # defaults: 4317 gRPC, 4318 HTTP, 4319 API
    mlspan collector --config collector.yaml
    mlspan collector --check-config collector.yaml
    mlspan collector --grpc-endpoint 0.0.0.0:4317 --data-dir /var/lib/mlspan

Flags override ``MLSPAN_*`` environment variables, which override the file. SIGINT and
SIGTERM shut down gracefully: receivers stop, queues drain, the store closes.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from mlspan.collector.config import Overrides, load_config
from mlspan.collector.config.loader import CONFIG_ENV, ENV_VARS
from mlspan.collector.pipeline.factory import ConfigError
from mlspan.collector.receivers.otlp.config import DEFAULT_GRPC_ENDPOINT, DEFAULT_HTTP_ENDPOINT
from mlspan.collector.service import Service
from mlspan.collector.service.config import DEFAULT_API_ENDPOINT, DEFAULT_DATA_DIR
from mlspan.collector.service.factories import default_factories

logger = logging.getLogger(__name__)

_FLAGS = {
    "data_dir": ("--data-dir", "data folder (store, queues, history)"),
    "grpc_endpoint": ("--grpc-endpoint", "OTLP/gRPC listen address host:port"),
    "http_endpoint": ("--http-endpoint", "OTLP/HTTP listen address host:port"),
    "api_endpoint": ("--api-endpoint", "query API and /metrics listen address host:port"),
    "storage_url": (
        "--storage-url",
        "lineage store: SQLite file, folder, sqlite:///path or postgresql://user@host/db",
    ),
    "storage_password_file": ("--storage-password-file", "file holding the PostgreSQL password"),
}


def register(subparsers: Any) -> None:
    """Add the ``collector`` subcommand."""
    parser = subparsers.add_parser(
        "collector",
        help="run the OTLP collector (lineage, drift, forwarding)",
        description="Run the mlspan collector. Without --config it uses built-in defaults.",
        epilog=(
            f"Defaults: OTLP/gRPC {DEFAULT_GRPC_ENDPOINT}, OTLP/HTTP {DEFAULT_HTTP_ENDPOINT}, "
            f"query API and /metrics {DEFAULT_API_ENDPOINT}, data folder {DEFAULT_DATA_DIR}. "
            "Flags override MLSPAN_* environment variables, which override the file. "
            "Reference: docs/collector.md."
        ),
    )
    parser.add_argument("--config", type=Path, help=f"YAML configuration file (env {CONFIG_ENV})")
    parser.add_argument(
        "--check-config",
        type=Path,
        metavar="FILE",
        help="validate FILE (with env and flag overrides) and exit without starting",
    )
    for name, (flag, text) in _FLAGS.items():
        parser.add_argument(flag, dest=name, help=f"{text} (env {ENV_VARS[name]})")
    parser.add_argument(
        "--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR")
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check the configuration, or run until SIGINT/SIGTERM."""
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    flags = Overrides(**{name: getattr(args, name) for name in _FLAGS})
    factories = default_factories()
    path = args.check_config or args.config
    try:
        config = load_config(path, factories, flags)
    except ConfigError as exc:
        print(f"mlspan collector: invalid configuration: {exc}", file=sys.stderr)
        return 2
    if args.check_config is not None:
        print(f"{args.check_config}: configuration is valid")
        return 0
    service = Service(config, factories)
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        try:
            service.start()
        except (OSError, ConfigError) as exc:
            print(f"mlspan collector: cannot start: {exc}", file=sys.stderr)
            return 1
        print(_banner(service), flush=True)
        while not stop.wait(1.0):
            pass
        logger.info("signal received, shutting down")
    finally:
        service.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _banner(service: Service) -> str:
    lines = ["mlspan collector running"]
    for component_id, receiver in service.receivers().items():
        if receiver.grpc is not None:
            lines.append(f"  OTLP/gRPC  {component_id}: {receiver.grpc.address}")
        if receiver.http is not None:
            scheme = "https" if receiver.http.config.tls is not None else "http"
            address = receiver.http.address
            lines.append(f"  OTLP/HTTP  {component_id}: {scheme}://{address}/v1/traces")
    if service.api is not None:
        lines.append(f"  query API: {service.api.url}  (metrics: {service.api.url}/metrics)")
    lines.append(f"  data folder: {service.data_dir}")
    return "\n".join(lines)
