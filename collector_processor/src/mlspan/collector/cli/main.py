"""The ``mlspan`` command: runs the collector and queries a running one.

Each subcommand module exposes ``register(subparsers)``, which adds its parsers and sets
``func`` (taking the parsed arguments, returning an exit code) as the parser default.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "collector_command",
    "lineage_commands",
    "drift_commands",
    "alert_commands",
    "performance_commands",
)
"""Modules of this package contributing subcommands; a missing one is skipped."""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="mlspan", description="OpenTelemetry-native observability for ML pipelines."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for short in COMMAND_MODULES:
        name = f"{__package__}.{short}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen subcommand."""
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
