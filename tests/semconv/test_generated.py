"""The committed generated files must be exactly what the YAML model produces."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "mlspan_semconv_generate", REPO / "semantic_conventions" / "generate.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return load_generator()


def test_committed_files_match_the_model(generator: ModuleType) -> None:
    files = generator.render_all(generator.load_model())
    assert generator.stale_files(files) == []


def test_a_model_change_makes_the_files_stale(generator: ModuleType, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(REPO / "semantic_conventions" / "model", model_dir)
    registry = model_dir / "registry.yaml"
    registry.write_text(
        registry.read_text().replace("Deterministic digest of class", "Digest of class"),
        encoding="utf-8",
    )
    files = generator.render_all(generator.load_model(model_dir))
    stale = generator.stale_files(files)
    assert generator.PACKAGE_DIR / "attributes.py" in stale
    assert generator.DOCS_FILE in stale


def test_check_mode_reports_clean_tree(generator: ModuleType) -> None:
    assert generator.main(["--check"]) == 0


def test_constants_and_enums_are_exposed() -> None:
    from mlspan import semconv

    assert semconv.MODEL_VERSION == "mlspan.model.version"
    assert semconv.DATASET_DIGEST == "mlspan.dataset.digest"
    assert semconv.IO_INPUTS == "mlspan.io.inputs"
    assert semconv.FEATURE_SUMMARY == "mlspan.feature.summary"
    assert semconv.OperationName.FIT.value == "fit"
    assert {r.value for r in semconv.DatasetRole} == {"train", "eval", "inference"}
    assert {k.value for k in semconv.FeatureKind} == {"numerical", "categorical"}


def test_docs_list_every_attribute_with_type_brief_and_example(generator: ModuleType) -> None:
    model = generator.load_model()
    docs = generator.DOCS_FILE.read_text(encoding="utf-8")
    for attribute in model.attributes:
        row = next(line for line in docs.splitlines() if line.startswith(f"| `{attribute.id}` "))
        cells = [cell.strip() for cell in row.strip("|").split(" | ")]
        assert cells[1] == attribute.type
        assert cells[2] and cells[3], row


CONTRACT = [
    "mlspan.operation.name",
    "mlspan.component.name",
    "mlspan.model.class",
    "mlspan.model.name",
    "mlspan.model.version",
    "mlspan.model.framework",
    "mlspan.model.params",
    "mlspan.dataset.digest",
    "mlspan.dataset.rows",
    "mlspan.dataset.columns",
    "mlspan.dataset.role",
    "mlspan.dataset.source",
    "mlspan.io.inputs",
    "mlspan.io.outputs",
    "mlspan.prediction.digest",
]


def test_registry_covers_the_design_contract(generator: ModuleType) -> None:
    ids = {a.id for a in generator.load_model().attributes}
    assert set(CONTRACT) <= ids
    operations = next(
        a for a in generator.load_model().attributes if a.id == "mlspan.operation.name"
    )
    values = {m.value for m in operations.members}
    expected = "fit predict predict_proba transform fit_transform score read write component labels"
    assert set(expected.split()) <= values
