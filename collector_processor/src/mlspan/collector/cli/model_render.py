"""Text renderings of the model registry's answers for ``mlspan models`` / ``model``."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

MAX_METRIC_COLUMNS: Final = 4


def table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def number(value: object) -> str:
    """A metric value in 4 significant digits, ``-`` when absent."""
    return "-" if not isinstance(value, int | float) else f"{value:.4g}"


def when(seconds: object) -> str:
    """Unix seconds as ``2026-12-07 10:00`` (UTC)."""
    if not isinstance(seconds, int | float) or seconds <= 0:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")


def short(digest: object) -> str:
    """``model:xxh3_128:4be1c0a59d7f...`` shortened to its kind and 12 hex digits."""
    if not isinstance(digest, str) or not digest:
        return "-"
    kind, _, rest = digest.partition(":")
    return f"{kind}:{rest.rsplit(':', 1)[-1][:12]}" if rest else digest[:16]


def key_text(key: Mapping[str, Any] | None) -> str:
    """``accuracy on data:9a8b7c6d5e4f`` or ``none``."""
    if not key:
        return "none"
    label = key["metric"] if key["source"] == "score" else f"{key['source']}:{key['metric']}"
    return label + (f" on {short(key.get('dataset'))}" if key.get("dataset") else "")


def models_text(answer: Mapping[str, Any]) -> str:
    """``mlspan models``."""
    models = answer["models"]
    if not models:
        return "no models yet: no user fit with a model version has reached the collector"
    rows = [["MODEL", "SERVICE", "CLASS", "VERSIONS", "LATEST", "KEY METRIC", "BEST", "STAGES"]]
    for m in models:
        stages = ", ".join(f"{tag}={label}" for tag, label in sorted(m["stages"].items()))
        rows.append(
            [
                m["model"],
                m["service"] or "-",
                str(m["class"]).rsplit(".", 1)[-1],
                str(m["versions"]),
                m["latest"],
                key_text(m["key_metric"]),
                m["best"] or "-",
                stages or "-",
            ]
        )
    return table(rows)


def _labels(versions: Sequence[Mapping[str, Any]], key: Mapping[str, Any] | None) -> list[str]:
    seen: dict[str, None] = {}
    if key:
        seen[key["metric"] if key["source"] == "score" else f"{key['source']}:{key['metric']}"] = (
            None
        )
    for version in versions:
        for metric in version["metrics"]:
            seen.setdefault(metric["label"], None)
    return list(seen)[:MAX_METRIC_COLUMNS]


def _metric_cell(version: Mapping[str, Any], label: str, key: Mapping[str, Any] | None) -> str:
    matches = [m for m in version["metrics"] if m["label"] == label]
    if key and matches:
        on_key = [m for m in matches if m["dataset"] == key.get("dataset")]
        matches = on_key or matches
    if not matches:
        return "-"
    metric = matches[0]
    spread = "" if metric["stderr"] is None else f" ±{1.96 * metric['stderr']:.2g}"
    return number(metric["value"]) + spread


def model_text(answer: Mapping[str, Any]) -> str:
    """``mlspan model NAME``: versions table, best marked, and parameter effects."""
    key = answer["key_metric"]
    versions = answer["versions"]
    service = f" (service {answer['service']})" if answer["service"] else ""
    lines = [
        f"{answer['model']}{service}: {len(versions)} version(s), key metric {key_text(key)},"
        f" best {answer['best'] or '-'}"
    ]
    labels = _labels(versions, key)
    rows = [
        [
            "",
            "VERSION",
            "FIRST FIT (UTC)",
            "FITS",
            "TRAIN ROWS",
            *labels,
            "TAGS",
            "SERVING",
            "DIGEST",
        ]
    ]
    for v in versions:
        rows.append(
            [
                "*" if v["best"] else "",
                v["version"],
                when(v["first_fit"]),
                str(v["fits"]),
                "-" if v["train_rows"] is None else f"{v['train_rows']:,}",
                *(_metric_cell(v, label, key) for label in labels),
                ", ".join(v["tags"]) or "-",
                ", ".join(v["serving"]) or "-",
                short(v["digest"]),
            ]
        )
    lines.append(table(rows))
    lines.append("(* best on the key metric; ± is a 95 % interval where a standard error is known)")
    effects = answer.get("effects") or {}
    moved = [e["text"] for e in effects.get("versions", [])]
    if moved:
        lines.append("Which parameters moved the key metric (versions differing only in it):")
        lines += [f"  {text}" for text in moved]
    for found in effects.get("searches", []):
        if found["effects"]:
            lines.append(f"Search {found['version']}: marginal effects of its parameters:")
            lines += [f"  {text}" for text in found["effects"]]
    return "\n".join(lines)


def _value(value: object) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def diff_text(answer: Mapping[str, Any]) -> str:
    """``mlspan model diff NAME A B``."""
    a, b = answer["a"]["version"], answer["b"]["version"]
    lines = [f"{answer['model']} {a} -> {b}"]
    classes = answer["class"]
    if classes["a"] != classes["b"]:
        lines.append(f"class: {classes['a']} -> {classes['b']}")
    params = answer["params"]
    lines.append("parameters:" if params else "parameters: identical")
    for p in params:
        if p["change"] == "added":
            lines.append(f"  {p['name']}: (absent) -> {_value(p['b'])}")
        elif p["change"] == "removed":
            lines.append(f"  {p['name']}: {_value(p['a'])} -> (absent)")
        else:
            lines.append(f"  {p['name']}: {_value(p['a'])} -> {_value(p['b'])}")
    data = answer["data"]
    if data["same"]:
        lines.append(f"training data: identical ({short(data['a']['digest'])})")
    else:
        da, db = data["a"], data["b"]
        lines.append(
            f"training data: {short(da['digest'])} -> {short(db['digest'])};"
            f" rows {number(da['rows'])} -> {number(db['rows'])},"
            f" columns {number(da['columns'])} -> {number(db['columns'])}"
        )
        drift = data["drift"] or {}
        if drift.get("compared"):
            lines.append(f"  drift of {b}'s training features against {a}'s: {drift['insight']}")
            for feature in drift["features"]:
                if feature["drifted"]:
                    lines.append(f"    {feature['insight']}")
            for side, names in (
                ("only in " + a, drift["only_in_a"]),
                ("only in " + b, drift["only_in_b"]),
            ):
                if names:
                    lines.append(f"  features {side}: {', '.join(names)}")
        elif drift:
            lines.append(f"  drift: {drift.get('reason')}")
    code = answer["code"]
    if code["same"] is None:
        lines.append("code: version not known for both (no enclosing component recorded it)")
    elif code["same"]:
        lines.append(
            f"code: same (commit {code['a']['commit'] or '-'}, source {short(code['a']['digest'])})"
        )
    else:
        lines.append(
            f"code: commit {code['a']['commit'] or '-'} -> {code['b']['commit'] or '-'},"
            f" source {short(code['a']['digest'])} -> {short(code['b']['digest'])}"
        )
    metrics = answer["metrics"]
    lines.append(f"metrics ({b} - {a}, 95 % interval):" if metrics else "metrics: none in common")
    for m in metrics:
        where = f" on {short(m['dataset'])}" if m["dataset"] else ""
        lines.append(f"  {m['text']}  ({number(m['a'])} -> {number(m['b'])}){where}")
    return "\n".join(lines)


def version_text(answer: Mapping[str, Any]) -> str:
    """``mlspan model show NAME vN``."""
    code = answer["code"] or {}
    training = answer["training"]
    lines = [
        f"{answer['model']} {answer['version']}  {answer['digest']}",
        f"  class        {answer['class']}",
        f"  fitted       {when(answer['first_fit'])} UTC ({answer['fits']} fit(s),"
        f" {answer['fit_seconds']:.3g} s)",
        f"  code         commit {code.get('commit') or '-'}, source {code.get('digest') or '-'}",
        f"  training     {training['digest'] or '-'} ({number(training['rows'])} rows,"
        f" {number(training['columns'])} columns) {', '.join(training['names'])}".rstrip(),
        f"  features     {_features(answer['features'], 'input')}",
        f"  target       {_features(answer['features'], 'target')}",
        f"  tags         {', '.join(answer['tags']) or '-'}",
        f"  serving      {', '.join(s['service'] for s in answer['serving']) or '-'}",
        "  parameters",
    ]
    lines += [f"    {name} = {_value(value)}" for name, value in sorted(answer["params"].items())]
    lines.append("  metrics")
    for m in answer["metrics"]:
        spread = "" if m["stderr"] is None else f" ± {1.96 * m['stderr']:.2g}"
        where = f" on {short(m['dataset'])}" if m["dataset"] else ""
        lines.append(f"    {m['label']} = {number(m['value'])}{spread}{where}")
    return "\n".join(lines)


def _features(schema: Sequence[Mapping[str, Any]], origin: str) -> str:
    names = [f"{f['name']} ({f['kind']})" for f in schema if f.get("origin") == origin]
    return ", ".join(names) or "-"


def check_file(artifact_id: str, paths: Sequence[str]) -> str:
    """Whether a ``file:`` input still exists here unchanged (re-digested with the
    instrumentation's own digest function)."""
    from mlspan.instrumentation.digest import digest_file

    for path in paths:
        if os.path.isfile(path):
            try:
                now = digest_file(path)
            except OSError as exc:
                return f"unreadable here: {exc}"
            return "unchanged" if now == artifact_id else f"CHANGED: {path} is now {short(now)}"
    return "missing here" if paths else "no path known"


def recipe_text(answer: Mapping[str, Any], check: bool) -> str:
    """``mlspan model show NAME vN --recipe``."""
    code = answer["code"] or {}
    lines = [
        f"Recipe for {answer['model']} {answer['version']} ({answer['digest']})",
        f"code:        commit {code.get('commit') or '-'}"
        f"{' in component ' + code['component'] if code.get('component') else ''}",
        f"             source digest {code.get('digest') or '-'}",
        f"estimator:   {answer['class']}",
        "parameters:",
    ]
    lines += [f"  {name} = {_value(value)}" for name, value in sorted(answer["params"].items())]
    libraries = answer["libraries"] or {}
    if not libraries and answer["framework_version"]:
        libraries = {"scikit-learn": answer["framework_version"]}
    lines.append(
        "libraries:   " + (", ".join(f"{k} {v}" for k, v in libraries.items()) or "unknown")
    )
    lines.append("inputs:")
    for item in answer["inputs"]:
        paths = ", ".join(item["paths"]) or "-"
        state = ""
        if item["kind"] == "file" and check:
            state = f"  [{check_file(item['artifact_id'], item['paths'])}]"
        lines.append(f"  {item['role']:<8} {item['artifact_id']}  {paths}{state}")
    if answer["runs"]:
        lines.append("steps (upstream first):")
        for run in answer["runs"]:
            commit = f" commit {run['code_commit']}" if run["code_commit"] else ""
            lines.append(f"  {run['name']} [{run['service']}]{commit}")
    if not answer["lineage_complete"]:
        lines.append("(lineage incomplete: the upstream graph was cut short or is not recorded)")
    return "\n".join(lines)


def tags_text(answer: Mapping[str, Any]) -> str:
    """``mlspan model tag``."""
    return f"{answer['model']} {answer['version']}: tags {', '.join(answer['tags']) or '(none)'}"
