"""A ColumnTransformer over a customer table with numeric and categorical columns.

A generated churn table (numbers with missing values, plans, regions and sign-up
channels) is split, prepared by a ColumnTransformer (median imputation and scaling for
the numbers, one-hot encoding for the categories) and classified by a logistic
regression; the test predictions are written to a CSV file with pandas.

Usage: python column_transformer.py [--quick] [--output-dir DIR]
(or WORKLOAD_QUICK=1 / MLSPAN_WORKLOAD_OUTPUT_DIR=DIR; default: a temporary folder)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["age", "income", "tenure_months", "monthly_spend", "support_calls"]
CATEGORICAL = ["plan", "region", "channel", "payment"]


def options() -> tuple[bool, Path]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small version (~1-3 s)")
    parser.add_argument("--output-dir", type=Path, help="where the predictions are written")
    args = parser.parse_args()
    quick = args.quick or os.environ.get("MLSPAN_WORKLOAD_QUICK") == "1"
    folder = args.output_dir or os.environ.get("MLSPAN_WORKLOAD_OUTPUT_DIR")
    return quick, Path(folder) if folder else Path(tempfile.mkdtemp(prefix="churn-"))


def customers(rows: int, seed: int) -> pd.DataFrame:
    """A churn table: plausible columns, some values missing, a noisy logistic target."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 85, rows).astype(float),
            "income": rng.lognormal(10.8, 0.5, rows).round(2),
            "tenure_months": rng.integers(0, 120, rows),
            "monthly_spend": rng.gamma(2.0, 30.0, rows).round(2),
            "support_calls": rng.poisson(1.5, rows),
            "plan": rng.choice(["basic", "plus", "pro", "family"], rows, p=[0.4, 0.3, 0.2, 0.1]),
            "region": rng.choice(["north", "south", "east", "west", "central"], rows),
            "channel": rng.choice(["web", "store", "phone", "partner"], rows),
            "payment": rng.choice(["card", "transfer", "cash"], rows, p=[0.6, 0.3, 0.1]),
        }
    )
    score = (
        -1.0
        + 0.5 * (frame["plan"] == "basic")
        - 0.02 * frame["tenure_months"]
        + 0.35 * frame["support_calls"]
        + 0.004 * frame["monthly_spend"]
        - 0.01 * (frame["age"] - 50).abs()
        + 0.3 * (frame["channel"] == "partner")
        + rng.normal(0.0, 1.0, rows)
    )
    frame["churned"] = (score > 0).astype(int)
    for column, share in (("age", 0.05), ("income", 0.1), ("monthly_spend", 0.02)):
        frame.loc[rng.random(rows) < share, column] = np.nan
    frame.loc[rng.random(rows) < 0.03, "channel"] = None
    return frame


def main() -> None:
    quick, folder = options()
    folder.mkdir(parents=True, exist_ok=True)
    table = customers(5_000 if quick else 1_000_000, seed=11)
    train, test = train_test_split(table, test_size=0.25, random_state=3)

    prepare = ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
            (
                "categories",
                OneHotEncoder(handle_unknown="ignore", min_frequency=0.01),
                CATEGORICAL,
            ),
        ]
    )
    model = Pipeline([("prepare", prepare), ("classify", LogisticRegression(max_iter=1000))])
    model.fit(train[NUMERIC + CATEGORICAL], train["churned"])

    predicted = model.predict(test[NUMERIC + CATEGORICAL])
    probability = model.predict_proba(test[NUMERIC + CATEGORICAL])[:, 1]
    accuracy = model.score(test[NUMERIC + CATEGORICAL], test["churned"])
    output = folder / "churn_predictions.csv"
    pd.DataFrame(
        {"row": test.index, "churn": predicted, "probability": probability.round(6)}
    ).to_csv(output, index=False)

    print(f"rows: train {len(train)}, test {len(test)}")
    print(f"encoded columns: {len(model.named_steps['prepare'].get_feature_names_out())}")
    print(f"churn rate: train {train['churned'].mean():.6f}, predicted {predicted.mean():.6f}")
    print(f"test accuracy: {accuracy:.6f}")
    print(f"mean probability: {probability.mean():.6f}")
    print(f"coefficients: {[round(float(c), 6) for c in model.named_steps['classify'].coef_[0]]}")
    print(f"predictions file sha256: {hashlib.sha256(output.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
