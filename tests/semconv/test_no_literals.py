"""No library code outside semantic_conventions/ spells an mlspan attribute name."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIBRARY_ROOTS = ("instrumentation/src", "collector_processor/src")
PREFIX = "mlspan" + "."


def literal_violations(source: str, filename: str) -> list[str]:
    """Places where a string constant starts with the attribute prefix."""
    tree = ast.parse(source, filename)
    return [
        f"{filename}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith(PREFIX)
    ]


def test_library_code_imports_the_constants() -> None:
    violations = []
    for root in LIBRARY_ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            violations += literal_violations(text, str(path.relative_to(REPO)))
    assert violations == []


def test_the_check_catches_a_literal() -> None:
    bad = 'span.set_attribute("' + PREFIX + 'model.version", version)\n'
    assert literal_violations(bad, "bad.py") == [f"bad.py:1: '{PREFIX}model.version'"]
    good = "from mlspan.semconv import MODEL_VERSION\nspan.set_attribute(MODEL_VERSION, v)\n"
    assert literal_violations(good, "good.py") == []
