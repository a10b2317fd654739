"""Model selection by hand: a loop of ``cross_validate`` calls over regressors.

A generated regression problem (40 features, 15 informative) is scored by 5-fold
cross-validation for a few ridge and lasso penalties and random-forest depths, with two
metrics and training scores; the loop prints each candidate's mean scores and the
winner, then refits the winner and reports its error on held-out data.

Usage: python cross_validate_loop.py [--quick]   (or WORKLOAD_QUICK=1)
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from sklearn.datasets import make_regression
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Lasso, Ridge
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import KFold, cross_validate, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def quick_mode() -> bool:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small version (~1-3 s)")
    args = parser.parse_args()
    return args.quick or os.environ.get("MLSPAN_WORKLOAD_QUICK") == "1"


def main() -> None:
    quick = quick_mode()
    X, y = make_regression(
        n_samples=600 if quick else 5_000,
        n_features=40,
        n_informative=15,
        noise=15.0,
        random_state=0,
    )
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    candidates: dict[str, Any] = {}
    for alpha in (0.1, 10.0, 100.0):
        candidates[f"ridge alpha={alpha}"] = make_pipeline(StandardScaler(), Ridge(alpha=alpha))
    for alpha in (0.1, 1.0):
        candidates[f"lasso alpha={alpha}"] = make_pipeline(StandardScaler(), Lasso(alpha=alpha))
    for depth in (6, 12):
        candidates[f"forest depth={depth}"] = RandomForestRegressor(
            n_estimators=10 if quick else 25, max_depth=depth, random_state=0
        )
    folds = KFold(n_splits=3 if quick else 5, shuffle=True, random_state=1)
    results = {}
    for name, estimator in candidates.items():
        scores = cross_validate(
            estimator,
            X_train,
            y_train,
            cv=folds,
            scoring=("r2", "neg_mean_absolute_error"),
            return_train_score=True,
        )
        r2 = scores["test_r2"].mean()
        mae = -scores["test_neg_mean_absolute_error"].mean()
        results[name] = r2
        print(
            f"{name:<18} r2 {r2:.6f} (train {scores['train_r2'].mean():.6f})"
            f"  mae {mae:.6f}  folds {len(scores['test_r2'])}"
        )
    winner = max(results, key=lambda name: results[name])
    model = candidates[winner].fit(X_train, y_train)
    print(f"winner: {winner}")
    print(f"held-out mae: {mean_absolute_error(y_test, model.predict(X_test)):.6f}")
    print(f"held-out r2: {model.score(X_test, y_test):.6f}")


if __name__ == "__main__":
    main()
