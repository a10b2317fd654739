"""``mlspan trace|impact|history|recent|show|flag|unflag|review|tag|note``.

Every command asks a running collector's query API (``--api``, default ``$MLSPAN_API``
or the local collector) and prints a tree or table, or the API's JSON with ``--json``.
A reference that is an existing local file is looked up by its content digest first
(``file:xxh3_128:...``, the id the instrumentation gives it), then by path, so
``mlspan trace data/predictions.csv`` works whether or not a span named the path.
Failures print one line on stderr and exit with 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from mlspan.collector.api.client import (
    API_ENV,
    DEFAULT_API,
    ApiClient,
    ApiError,
    ApiUnreachableError,
    segment,
)
from mlspan.collector.cli.progress import waiting
from mlspan.collector.lineage import render

GRAPH_FORMATS = ("text", "json", "dot", "mermaid")
"""What ``trace`` and ``impact`` print (``--json`` is ``--format json``)."""

Command = Callable[[ApiClient, argparse.Namespace], tuple[Any, str]]
"""Runs one command: the API's JSON answer and its text rendering."""


def register(subparsers: Any) -> None:
    """Add the lineage subcommands."""

    def command(name: str, help_text: str, run: Command) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = subparsers.add_parser(
            name, help=help_text, description=help_text
        )
        parser.add_argument(
            "--api",
            default=os.environ.get(API_ENV, DEFAULT_API),
            help=f"query API base URL (default ${API_ENV} or {DEFAULT_API})",
        )
        parser.add_argument("--json", action="store_true", help="print the API's JSON")
        parser.set_defaults(func=lambda args: _main(run, args))
        return parser

    ref_help = "run id, artifact id, file path or name, or unique id prefix"
    for name, text, run in (
        ("trace", "upstream lineage of an output, model or run", _trace),
        ("impact", "everything built from an artifact or run (downstream)", _impact),
    ):
        parser = command(name, text, run)
        parser.add_argument("ref", help=ref_help)
        parser.add_argument("--depth", type=int, help="stop after this many runs")
        parser.add_argument(
            "--format",
            choices=GRAPH_FORMATS,
            default="text",
            help="text tree (default), the API's JSON, Graphviz DOT or a Mermaid flowchart",
        )
        if name == "trace":
            parser.add_argument("--stale-after-days", type=float, help="staleness age limit")
    parser = command("history", "runs of a component, newest first", _history)
    parser.add_argument("component")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--since", type=_timestamp, help="ISO date/time or unix seconds")
    parser.add_argument("--until", type=_timestamp, help="ISO date/time or unix seconds")
    parser = command("recent", "most recent runs", _recent)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--cursor", help="next_cursor printed by the previous page")
    parser.add_argument("--component", help="only runs of this component")
    parser = command("show", "one run: inputs, outputs, family, tags, notes, staleness", _show)
    parser.add_argument("run", help="run id or unique prefix")
    parser.add_argument("--stale-after-days", type=float, help="staleness age limit")
    parser = command("flag", "flag an output as wrong", _flag)
    parser.add_argument("ref", help=ref_help)
    parser.add_argument("--reason", default="", help="why it is wrong")
    parser = command("unflag", "clear an output's flag", _unflag)
    parser.add_argument("ref", help=ref_help)
    parser = command("review", "runs ranked by how many flagged outputs they feed", _review)
    parser.add_argument("--limit", type=int, default=20)
    parser = command("tag", "add or remove tags on a run or component", _tag)
    parser.add_argument("kind", choices=("run", "component"))
    parser.add_argument("target", help="run id or component name")
    parser.add_argument("tags", nargs="*", help="tags to add")
    parser.add_argument("--remove", nargs="+", default=[], metavar="TAG", help="tags to remove")
    parser = command("note", "add a note to a run or component, or list its notes", _note)
    parser.add_argument("kind", choices=("run", "component"))
    parser.add_argument("target", help="run id or component name")
    parser.add_argument("text", nargs="?", help="the note (omit to list notes)")


def _main(run: Command, args: argparse.Namespace) -> int:
    client = ApiClient(args.api)
    try:
        with waiting(f"mlspan {args.command}"):
            answer, text = run(client, args)
    except (ApiError, ApiUnreachableError) as exc:
        print(f"mlspan {args.command}: {exc}", file=sys.stderr)
        return 1
    except (KeyError, TypeError, AttributeError) as exc:  # an answer of another shape
        print(
            f"mlspan {args.command}: unexpected answer from {client.base_url}: {exc!r}",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(answer, indent=2, ensure_ascii=False) if args.json else text)
    return 0


def _timestamp(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date/time or unix seconds: {text}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _by_reference(client: ApiClient, method: str, template: str, ref: str, **kw: Any) -> Any:
    """Call ``template`` with the reference, trying a local file's digest first."""
    if os.path.isfile(ref):
        from mlspan.instrumentation.digest import digest_file

        try:
            return client.request(method, template.format(segment(digest_file(ref))), **kw)
        except ApiError as exc:
            if exc.status != 404:
                raise
    return client.request(method, template.format(segment(ref)), **kw)


def _trace(client: ApiClient, args: argparse.Namespace) -> tuple[Any, str]:
    params = {"max_depth": args.depth, "stale_after_days": args.stale_after_days}
    answer = _by_reference(client, "GET", "/api/v1/trace/{}", args.ref, params=params)
    return answer, _graph_text(answer, args, downstream=False)


def _impact(client: ApiClient, args: argparse.Namespace) -> tuple[Any, str]:
    params = {"max_depth": args.depth}
    answer = _by_reference(client, "GET", "/api/v1/impact/{}", args.ref, params=params)
    return answer, _graph_text(answer, args, downstream=True)


def _graph_text(answer: Any, args: argparse.Namespace, downstream: bool) -> str:
    """A lineage answer in the ``--format`` asked for (the web UI's exporters)."""
    if args.format == "json":
        return json.dumps(answer, indent=2, ensure_ascii=False)
    if args.format == "text":
        return render.graph_tree(answer, downstream=downstream)
    from mlspan.collector.ui import graph_export, graph_model

    graph = graph_model.from_answer(answer, "downstream" if downstream else "upstream")
    return graph_export.to_dot(graph) if args.format == "dot" else graph_export.to_mermaid(graph)


def _history(client: ApiClient, args: argparse.Namespace) -> tuple[Any, str]:
    params = {"limit": args.limit, "since": args.since, "until": args.until}
    answer = client.request(
        "GET", f"/api/v1/components/{segment(args.component)}/runs", params=params
    )
    component = answer["component"]
    lines = [
        f"component {component['name']}"
        + (f"  owner {component['owner']}" if component["owner"] else "")
    ]
    if component["tags"]:
        lines.append(f"tags: {', '.join(component['tags'])}")
    lines.extend(f"note: {n['text']}" for n in component["notes"])
    lines.append(render.runs_table(answer["runs"]) if answer["runs"] else "no runs in range")
    return answer, "\n".join(lines)


def _recent(client: ApiClient, args: argparse.Namespace) -> tuple[Any, str]:
    params = {"limit": args.limit, "cursor": args.cursor, "component": args.component}
    answer = client.request("GET", "/api/v1/runs", params=params)
    text = render.runs_table(answer["runs"]) if answer["runs"] else "no runs"
    if answer["next_cursor"]:
        text += f"\nmore: mlspan recent --cursor {answer['next_cursor']}"
    return answer, text


def _show(client: ApiClient, args: argparse.Namespace) -> tuple[Any, str]:
    answer = client.request(
        "GET",
        f"/api/v1/runs/{segment(args.run)}",
        params={"stale_after_days": args.stale_after_days},
    )
    return answer, render.show_text(answer)


def _flag(client: ApiClient, args: argparse.Namespace) -> tuple[Any, str]:
    answer = _by_reference(
        client, "POST", "/api/v1/artifacts/{}/flag", args.ref, body={"reason": args.reason}
    )
    return answer, f"flagged {render.artifact_line(answer)}"


def _unflag(client: ApiClient, args: argparse.Namespace) -> tuple[Any, str]:
    answer = _by_reference(client, "DELETE", "/api/v1/artifacts/{}/flag", args.ref)
    return answer, f"unflagged {render.artifact_line(answer)}"


def _review(client: ApiClient, args: argparse.Namespace) -> tuple[Any, str]:
    answer = client.request("GET", "/api/v1/review", params={"limit": args.limit})
    if not answer["runs"]:
        return answer, "no flagged outputs" if not answer["flagged"] else "no runs to review"
    runs = [entry["run"] for entry in answer["runs"]]
    counts = [entry["count"] for entry in answer["runs"]]
    header = f"{answer['flagged']} flagged output(s); runs feeding the most of them first:"
    return answer, f"{header}\n{render.runs_table(runs, counts)}"


def _path(kind: str, target: str) -> str:
    return f"/api/v1/{'runs' if kind == 'run' else 'components'}/{segment(target)}"


def _tag(client: ApiClient, args: argparse.Namespace) -> tuple[Any, str]:
    body = {"add": args.tags, "remove": args.remove}
    answer = client.request("POST", _path(args.kind, args.target) + "/tags", body=body)
    tags = ", ".join(answer["tags"]) or "none"
    return answer, f"{answer['kind']} {answer['target']} tags: {tags}"


def _note(client: ApiClient, args: argparse.Namespace) -> tuple[Any, str]:
    path = _path(args.kind, args.target) + "/notes"
    if args.text is None:
        answer = client.request("GET", path)
        notes = answer["notes"]
        lines = [f"{render.when(n['created_ns'])}  {n['text']}" for n in notes]
        return answer, "\n".join(lines) or "no notes"
    answer = client.request("POST", path, body={"text": args.text})
    return answer, f"noted on {answer['kind']} {answer['target']}"
