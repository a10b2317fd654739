"""The ``mlspan`` command: runs the collector and queries a running one.

Commands are registered lazily so that a query answers quickly: ``COMMANDS`` names each
command's module and one-line help, and only the module of the command being run is
imported (``mlspan recent`` never imports the collector, scipy or the instrumentation);
the others appear in ``mlspan --help`` from the table alone.

Each command module exposes ``register(subparsers)``, which adds the parsers of its
commands and sets ``func`` (taking the parsed arguments, returning an exit code) as the
parser default. A command module imports at module level only what parsing its
arguments needs (the standard library, ``mlspan.collector.api.client``); anything
heavier (the collector, numpy, scipy, the store) is imported inside the function that
runs the command. ``tests/collector/cli/test_quick_cli.py`` checks this for the query
commands with ``python -X importtime``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from typing import Final

COMMANDS: Final[Mapping[str, tuple[str, str]]] = {
    "collector": ("collector_command", "run the OTLP collector (lineage, drift, forwarding)"),
    "trace": ("lineage_commands", "upstream lineage of an output, model or run"),
    "impact": ("lineage_commands", "everything built from an artifact or run (downstream)"),
    "history": ("lineage_commands", "runs of a component, newest first"),
    "recent": ("lineage_commands", "most recent runs"),
    "show": ("lineage_commands", "one run: inputs, outputs, family, tags, notes, staleness"),
    "flag": ("lineage_commands", "flag an output as wrong"),
    "unflag": ("lineage_commands", "clear an output's flag"),
    "review": ("lineage_commands", "runs ranked by how many flagged outputs they feed"),
    "tag": ("lineage_commands", "add or remove tags on a run or component"),
    "note": ("lineage_commands", "add a note to a run or component, or list its notes"),
    "drift": ("drift_commands", "per-feature drift of a running collector"),
    "validate": ("drift_commands", "data-validation results of a running collector"),
    "alerts": ("alert_commands", "show firing alerts of a running collector"),
    "performance": ("performance_commands", "model performance from labelled outcomes"),
    "models": ("model_commands", "models of the registry"),
    "model": ("model_commands", "one model: versions, diff, show (--recipe), tag"),
    "experiment": ("experiment_commands", "A/B/n experiments: per-arm metrics and verdicts"),
}
"""Command name -> (module of this package that registers it, help in ``mlspan --help``).
A command whose module is not installed is left out."""


def _module_name(short: str) -> str:
    return f"{__package__}.{short}"


def _available(short: str) -> bool:
    return importlib.util.find_spec(_module_name(short)) is not None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser.

    ``command=None`` registers every command in full (imports every module: for docs
    and tests); otherwise only the modules of ``command`` are imported and the other
    commands get placeholder parsers carrying their help (``""``: placeholders only).
    """
    parser = argparse.ArgumentParser(
        prog="mlspan", description="OpenTelemetry-native observability for ML pipelines."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    loaded: set[str] = set()
    for name, (short, help_text) in COMMANDS.items():
        if short in loaded:
            continue
        if command is None or COMMANDS.get(command, ("", ""))[0] == short:
            if _available(short):
                importlib.import_module(_module_name(short)).register(subparsers)
                loaded.add(short)
            continue
        if _available(short):
            subparsers.add_parser(name, help=help_text)
    return parser


def command_of(argv: Sequence[str]) -> str:
    """The command named in ``argv`` (its first argument not starting with ``-``), or
    ``""`` when there is none."""
    return next((arg for arg in argv if not arg.startswith("-")), "")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen subcommand."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_of(arguments))
    args = parser.parse_args(arguments)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
