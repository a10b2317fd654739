"""Ten classifiers compared on three synthetic two-dimensional datasets.

The scikit-learn gallery's "Classifier comparison" without the plotting: moons, circles
and a linearly separable set, each scaled and split; every classifier (in a Pipeline with
a StandardScaler, as in the gallery) is fitted and scored, and its decision surface is
evaluated on a mesh grid, as ``DecisionBoundaryDisplay`` does to draw it.

Usage: python classifier_comparison.py [--quick]   (or WORKLOAD_QUICK=1)
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np
from sklearn.datasets import make_circles, make_classification, make_moons
from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
from sklearn.gaussian_process import GaussianProcessClassifier
from sklearn.gaussian_process.kernels import RBF
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier


def quick_mode() -> bool:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small version (~1-3 s)")
    args = parser.parse_args()
    return args.quick or os.environ.get("MLSPAN_WORKLOAD_QUICK") == "1"


def classifiers() -> dict[str, Any]:
    return {
        "Nearest Neighbors": KNeighborsClassifier(3),
        "Linear SVM": SVC(kernel="linear", C=0.025, random_state=42),
        "RBF SVM": SVC(gamma=2, C=1, random_state=42),
        "Gaussian Process": GaussianProcessClassifier(1.0 * RBF(1.0), random_state=42),
        "Decision Tree": DecisionTreeClassifier(max_depth=5, random_state=42),
        "Random Forest": RandomForestClassifier(
            max_depth=5, n_estimators=10, max_features=1, random_state=42
        ),
        "Neural Net": MLPClassifier(alpha=1, max_iter=1000, random_state=42),
        "AdaBoost": AdaBoostClassifier(random_state=42),
        "Naive Bayes": GaussianNB(),
        "QDA": QuadraticDiscriminantAnalysis(),
    }


def datasets(samples: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    X, y = make_classification(
        n_samples=samples,
        n_features=2,
        n_redundant=0,
        n_informative=2,
        random_state=1,
        n_clusters_per_class=1,
    )
    X += 2 * np.random.RandomState(2).uniform(size=X.shape)
    return {
        "moons": make_moons(n_samples=samples, noise=0.3, random_state=0),
        "circles": make_circles(n_samples=samples, noise=0.2, factor=0.5, random_state=1),
        "linearly separable": (X, y),
    }


def surface(model: Any, grid: np.ndarray) -> Any:
    """The response a decision-boundary plot colours: probability or decision value."""
    if hasattr(model, "decision_function"):
        return model.decision_function(grid)
    return model.predict_proba(grid)[:, 1]


def main() -> None:
    quick = quick_mode()
    samples, resolution = (100, 40) if quick else (500, 200)
    for data_name, (X_raw, y) in datasets(samples).items():
        X = StandardScaler().fit_transform(X_raw)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=42)
        x0, x1 = X[:, 0], X[:, 1]
        xx, yy = np.meshgrid(
            np.linspace(x0.min() - 0.5, x0.max() + 0.5, resolution),
            np.linspace(x1.min() - 0.5, x1.max() + 0.5, resolution),
        )
        grid = np.c_[xx.ravel(), yy.ravel()]
        print(f"{data_name}: {len(X_train)} train, {len(X_test)} test, {len(grid)} grid points")
        for name, classifier in classifiers().items():
            model = make_pipeline(StandardScaler(), classifier)
            model.fit(X_train, y_train)
            score = model.score(X_test, y_test)
            response = surface(model, grid)
            region = model.predict(grid)
            print(
                f"  {name:<18} score {score:.4f}  surface mean {response.mean():+.6f}"
                f"  class-1 area {region.mean():.6f}"
            )


if __name__ == "__main__":
    main()
