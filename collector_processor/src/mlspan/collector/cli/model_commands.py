"""``mlspan models`` and ``mlspan model``: the model registry of a running collector.

- ``mlspan models``: every model with its versions, key metric, best version and stages;
- ``mlspan model NAME``: the versions table with key metrics (best marked) and which
  parameters moved the key metric;
- ``mlspan model diff NAME A B``: parameters, training data (digests, rows, per-feature
  drift), code and metric deltas with 95 % intervals;
- ``mlspan model show NAME vN [--recipe]``: one version, or what recreates it; the
  recipe re-digests the input files that exist here and says whether they changed;
- ``mlspan model tag NAME vN --add production [--remove TAG]``: stage and user tags.

A model literally named ``diff``, ``show`` or ``tag`` is shown with ``--name``. Every
command reads ``--api`` (default ``$MLSPAN_API`` or http://127.0.0.1:4319); ``--json``
prints the API's answer.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Final

from mlspan.collector.cli.drift_commands import API_ENV, DEFAULT_API

ACTIONS: Final = ("diff", "show", "tag")


def register(subparsers: Any) -> None:
    """Add the ``models`` and ``model`` subcommands."""
    models = subparsers.add_parser(
        "models", help="models of the registry", description="Every model in the registry."
    )
    _common(models)
    models.set_defaults(func=run_models)
    model = subparsers.add_parser(
        "model",
        help="one model: versions, diff, show (--recipe), tag",
        description="mlspan model NAME | model diff NAME A B | model show NAME VERSION"
        " [--recipe] | model tag NAME VERSION --add TAG [--remove TAG]",
    )
    model.add_argument(
        "words", nargs="*", metavar="ARG", help="NAME, or an action and its arguments"
    )
    model.add_argument("--name", help="the model's name (for a model called diff, show or tag)")
    model.add_argument("--recipe", action="store_true", help="show: what recreates the version")
    model.add_argument(
        "--no-check", action="store_true", help="recipe: do not re-digest local input files"
    )
    model.add_argument("--add", action="append", default=[], metavar="TAG", help="tag: add")
    model.add_argument("--remove", action="append", default=[], metavar="TAG", help="tag: remove")
    _common(model)
    model.set_defaults(func=run_model)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--service", help="service name (when several have the model)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    parser.add_argument(
        "--api",
        default=os.environ.get(API_ENV, DEFAULT_API),
        help=f"query API base URL (default ${API_ENV} or {DEFAULT_API})",
    )


def run_models(args: argparse.Namespace) -> int:
    """Print every model."""
    from mlspan.collector.cli import model_render

    return _answer(
        args,
        lambda c: c.request("GET", "/api/v1/models", {"service": args.service}),
        model_render.models_text,
    )


def run_model(args: argparse.Namespace) -> int:
    """Dispatch ``model NAME`` / ``diff`` / ``show`` / ``tag``."""
    from mlspan.collector.api.client import segment
    from mlspan.collector.cli import model_render

    words = list(args.words)
    action = words.pop(0) if words and words[0] in ACTIONS and args.name is None else ""
    if args.name is not None:
        words.insert(0, args.name)
    needed = {"": 1, "diff": 3, "show": 2, "tag": 2}[action]
    if len(words) != needed:
        usage = {
            "": "model NAME",
            "diff": "model diff NAME A B",
            "show": "model show NAME VERSION [--recipe]",
            "tag": "model tag NAME VERSION --add TAG [--remove TAG]",
        }[action]
        print(f"mlspan model: usage: mlspan {usage}", file=sys.stderr)
        return 2
    base = f"/api/v1/models/{segment(words[0])}"
    service = {"service": args.service}
    if action == "diff":
        params = {**service, "a": words[1], "b": words[2]}
        return _answer(
            args, lambda c: c.request("GET", f"{base}/diff", params), model_render.diff_text
        )
    if action == "tag":
        if not args.add and not args.remove:
            print("mlspan model tag: give --add TAG and/or --remove TAG", file=sys.stderr)
            return 2
        body = {"add": args.add, "remove": args.remove}
        path = f"{base}/versions/{segment(words[1])}/tags"
        return _answer(
            args, lambda c: c.request("POST", path, service, body), model_render.tags_text
        )
    if action == "show":
        path = f"{base}/versions/{segment(words[1])}"
        if args.recipe:
            check = not args.no_check
            return _answer(
                args,
                lambda c: c.request("GET", f"{path}/recipe", service),
                lambda answer: model_render.recipe_text(answer, check),
            )
        return _answer(args, lambda c: c.request("GET", path, service), model_render.version_text)

    def versions(client: Any) -> Any:
        answer = client.request("GET", base, service)
        answer["effects"] = client.request("GET", f"{base}/effects", service)
        return answer

    return _answer(args, versions, model_render.model_text)


def _answer(args: argparse.Namespace, ask: Any, render: Any) -> int:
    """Ask the API, print JSON or text; 1 when the API refused or could not be reached."""
    from mlspan.collector.api.client import ApiClient, ApiError, ApiUnreachableError

    client = ApiClient(args.api)
    try:
        answer = ask(client)
    except (ApiError, ApiUnreachableError) as exc:
        print(f"mlspan {args.command}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        return 0
    try:
        print(render(answer))
    except (KeyError, TypeError, AttributeError) as exc:
        print(
            f"mlspan {args.command}: unexpected answer from {client.base_url}: {exc!r}",
            file=sys.stderr,
        )
        return 1
    return 0
