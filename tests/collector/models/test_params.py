"""Flattening the parameters the instrumentation records, as scikit-learn names them.

The registry's diff and parameter effects compare flat ``name -> value`` maps; a
Pipeline's ``steps`` and a ColumnTransformer's ``transformers`` hold their estimators in
lists, which must flatten to ``classifier__learning_rate`` rather than one opaque list.
"""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mlspan.collector.models import params
from mlspan.instrumentation.model_version import params_json


def pipeline(learning_rate: float) -> Pipeline:
    numerical = Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())])
    features = ColumnTransformer([("numerical", numerical, ["a", "b"])])
    classifier = HistGradientBoostingClassifier(learning_rate=learning_rate, max_iter=20)
    return Pipeline([("features", features), ("classifier", classifier)])


def test_a_pipeline_flattens_to_scikit_learns_deep_parameter_names() -> None:
    model = pipeline(0.2)
    flat = params.flatten(params.parse(params_json(model)))

    assert flat["classifier__learning_rate"] == 0.2
    assert flat["classifier__max_iter"] == 20
    assert flat["classifier"].endswith("HistGradientBoostingClassifier")
    assert flat["steps"] == [
        ["features", flat["features"]],
        ["classifier", flat["classifier"]],
    ]
    assert flat["features__transformers"] == [
        ["numerical", flat["features__numerical"], ["a", "b"]]
    ]
    deep = model.get_params(deep=True)
    scalar = {name for name, value in deep.items() if isinstance(value, (int, float, str))}
    recorded = {name for name in scalar if name in flat}
    # every top-level and classifier scalar scikit-learn lists is there under its name
    assert {name for name in scalar if name.startswith("classifier__")} <= recorded


def test_two_pipelines_differ_only_in_the_changed_step_parameter() -> None:
    a = params.flatten(params.parse(params_json(pipeline(0.05))))
    b = params.flatten(params.parse(params_json(pipeline(0.5))))

    changes = params.diff(a, b)

    assert [(c.name, c.before, c.after, c.change) for c in changes] == [
        ("classifier__learning_rate", 0.05, 0.5, "changed")
    ]


def test_lists_that_are_not_named_estimators_stay_values() -> None:
    raw = {
        "hidden_layer_sizes": [100, 50],
        "pairs": [["a", 1], ["b", 2]],
        "repeated": [["x", "a.C"], ["x", "a.D"]],
        "words": [["x", "C"], ["y", "D"]],
        "empty": [],
    }
    assert params.flatten(raw) == raw
