"""OpenTelemetry's attribute naming rules, applied to the mlspan registry."""

from __future__ import annotations

import re
from collections.abc import Iterable

from tests.semconv.test_generated import load_generator

PART = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def naming_errors(names: Iterable[str]) -> list[str]:
    """Every violation of the naming rules among ``names``."""
    names = list(names)
    errors = []
    namespaces = {name.rsplit(".", 1)[0] for name in names if "." in name}
    prefixes = set()
    for ns in namespaces:
        parts = ns.split(".")
        prefixes.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    for name in names:
        if not name.startswith("mlspan."):
            errors.append(f"{name}: must start with 'mlspan.'")
        if name != name.lower():
            errors.append(f"{name}: must be lowercase")
        parts = name.split(".")
        if len(parts) < 3:
            errors.append(f"{name}: needs a namespace below 'mlspan.'")
        errors.extend(
            f"{name}: part '{part}' is not snake_case" for part in parts if not PART.match(part)
        )
        if name in prefixes:
            errors.append(f"{name}: is also a namespace")
    return errors


def test_registry_follows_the_naming_rules() -> None:
    generator = load_generator()
    model = generator.load_model()
    names = [a.id for a in model.attributes]
    assert len(names) == len(set(names)), "duplicate attribute ids"
    assert naming_errors(names) == []
    event_names = [g.name for g in model.groups if g.type == "event"]
    assert naming_errors(event_names) == []


def test_the_rules_catch_bad_names() -> None:
    good = ["mlspan.model.version"]
    assert naming_errors(good) == []
    assert naming_errors(["mlspan.Model.version"])  # uppercase
    assert naming_errors(["mlspan.model.modelVersion"])  # camelCase part
    assert naming_errors(["mlspan.model..version"])  # empty part
    assert naming_errors(["ml.model.version"])  # foreign prefix
    assert naming_errors(["mlspan.model-version.x"])  # dash
    clash = naming_errors(["mlspan.model.framework", "mlspan.model.framework.version"])
    assert clash == ["mlspan.model.framework: is also a namespace"]


def test_every_group_refers_to_known_attributes() -> None:
    model = load_generator().load_model()
    ids = {a.id for a in model.attributes}
    for group in model.groups:
        unknown = [ref for ref, _level in group.refs if ref not in ids]
        assert unknown == [], group.id
