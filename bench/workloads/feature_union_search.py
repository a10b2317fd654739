"""Grid search over a FeatureUnion of PCA and univariate selection feeding an SVC.

After the scikit-learn gallery example "Concatenating multiple feature extraction
methods", on the digits dataset loaded as a DataFrame: pixels that never vary are dropped,
the union's PCA components and SelectKBest columns are concatenated and classified by an
RBF SVC; GridSearchCV tunes
both halves of the union and the classifier together, sequentially (no ``n_jobs``).

Usage: python feature_union_search.py [--quick]   (or WORKLOAD_QUICK=1)
"""

from __future__ import annotations

import argparse
import os

from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.feature_selection import SelectKBest, VarianceThreshold, f_classif
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import SVC


def quick_mode() -> bool:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small version (~1-3 s)")
    args = parser.parse_args()
    return args.quick or os.environ.get("MLSPAN_WORKLOAD_QUICK") == "1"


def main() -> None:
    quick = quick_mode()
    digits = load_digits(as_frame=True)
    X, y = digits.data, digits.target
    if quick:
        X, y = X.iloc[:400], y.iloc[:400]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=42, stratify=y
    )

    features = FeatureUnion([("pca", PCA(random_state=0)), ("univ_select", SelectKBest(f_classif))])
    pipeline = Pipeline(
        [
            ("drop_constant", VarianceThreshold()),
            ("scale", MinMaxScaler()),
            ("features", features),
            ("svm", SVC()),
        ]
    )
    if quick:
        param_grid = {
            "features__pca__n_components": [5],
            "features__univ_select__k": [5, 10],
            "svm__C": [1.0],
        }
    else:
        param_grid = {
            "features__pca__n_components": [5, 10, 20],
            "features__univ_select__k": [5, 20],
            "svm__C": [0.1, 1.0, 10.0],
            "svm__gamma": ["scale", 0.1],
        }
    search = GridSearchCV(pipeline, param_grid, cv=3 if quick else 5)
    search.fit(X_train, y_train)

    ranked = sorted(
        zip(search.cv_results_["rank_test_score"], search.cv_results_["params"], strict=True),
        key=lambda item: (item[0], sorted(item[1].items())),
    )
    print(f"candidates: {len(ranked)}")
    for rank, params in ranked[:5]:
        print(f"  rank {rank}: {sorted(params.items())}")
    print(f"best params: {sorted(search.best_params_.items())}")
    print(f"best cv score: {search.best_score_:.6f}")
    best = search.best_estimator_
    kept = best.named_steps["drop_constant"].get_feature_names_out()
    selector = best.named_steps["features"].transformer_list[1][1]
    print(f"pixels kept: {len(kept)}")
    print(f"selected pixels: {[str(kept[i]) for i in selector.get_support(indices=True)]}")
    print(f"union width: {best[:-1].transform(X_test).shape[1]}")
    print(f"test accuracy: {search.score(X_test, y_test):.6f}")


if __name__ == "__main__":
    main()
