"""Grid search over a scaling + logistic-regression pipeline on the digits dataset.

The classic scikit-learn gallery pattern: 64 pixel features (the images plus copies
nudged one pixel sideways, as the gallery's RBM example augments them), a Pipeline of
StandardScaler and LogisticRegression, GridSearchCV over 12 candidates x 5 folds with
all cores (``n_jobs=-1``), then the refitted best model scored on a held-out split.

Usage: python search_pipeline_digits.py [--quick]   (or WORKLOAD_QUICK=1)
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def quick_mode() -> bool:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small version (~1-3 s)")
    args = parser.parse_args()
    return args.quick or os.environ.get("MLSPAN_WORKLOAD_QUICK") == "1"


def nudge(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 images plus copies shifted one pixel left and right."""
    images = X.reshape(-1, 8, 8)
    copies = [images]
    for axis, step in ((2, 1), (2, -1)):
        shifted = np.roll(images, step, axis=axis)
        edge = 0 if step == 1 else -1
        if axis == 2:
            shifted[:, :, edge] = 0
        else:
            shifted[:, edge, :] = 0
        copies.append(shifted)
    return np.concatenate(copies).reshape(-1, 64), np.tile(y, len(copies))


def main() -> None:
    quick = quick_mode()
    X, y = load_digits(return_X_y=True)
    if quick:
        X, y = X[:600], y[:600]
    else:
        X, y = nudge(X, y)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )

    pipeline = Pipeline(
        [("scale", StandardScaler()), ("classify", LogisticRegression(max_iter=2000))]
    )
    param_grid: dict[str, list[Any]]
    if quick:
        param_grid = {"classify__C": [0.1, 1.0]}
    else:
        param_grid = {
            "classify__class_weight": [None, "balanced"],
            "classify__C": [0.001, 0.01, 0.1, 1.0, 10.0, 100.0],
        }
    search = GridSearchCV(pipeline, param_grid, cv=3 if quick else 5, n_jobs=-1)
    search.fit(X_train, y_train)

    print(f"candidates: {len(search.cv_results_['params'])}")
    for params, mean, std in zip(
        search.cv_results_["params"],
        search.cv_results_["mean_test_score"],
        search.cv_results_["std_test_score"],
        strict=True,
    ):
        print(f"  {sorted(params.items())}: {mean:.6f} (+/- {std:.6f})")
    print(f"best params: {sorted(search.best_params_.items())}")
    print(f"best cv score: {search.best_score_:.6f}")
    predictions = search.predict(X_test)
    print(f"test accuracy: {search.score(X_test, y_test):.6f}")
    print(f"predicted class counts: {[int((predictions == c).sum()) for c in range(10)]}")


if __name__ == "__main__":
    main()
