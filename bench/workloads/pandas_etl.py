"""A pandas extract-clean-load job feeding a model, with files at every step.

Raw exports are generated first (customers, products and orders as CSV files, with the
usual defects: missing values, duplicates, bad quantities). The job reads them back,
cleans and joins them, derives per-customer features from the orders before a cut-off
date and a label from the orders after it, writes the feature table as CSV and Parquet,
reads the Parquet file back, trains a classifier on it and writes its predictions.

Usage: python pandas_etl.py [--quick] [--output-dir DIR]
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
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split

CUTOFF = pd.Timestamp("2024-10-01")
CATEGORIES = ["books", "garden", "kitchen", "toys", "sports", "music", "office", "health"]


def options() -> tuple[bool, Path]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small version (~1-3 s)")
    parser.add_argument("--output-dir", type=Path, help="where raw and cleaned files go")
    args = parser.parse_args()
    quick = args.quick or os.environ.get("MLSPAN_WORKLOAD_QUICK") == "1"
    folder = args.output_dir or os.environ.get("MLSPAN_WORKLOAD_OUTPUT_DIR")
    return quick, Path(folder) if folder else Path(tempfile.mkdtemp(prefix="etl-"))


def write_raw_exports(folder: Path, customers: int, orders: int) -> None:
    """The source system's exports, defects included."""
    rng = np.random.default_rng(2024)
    ids = np.arange(1, customers + 1)
    pd.DataFrame(
        {
            "customer_id": ids,
            "region": rng.choice(["north", "south", "east", "west"], customers),
            "segment": rng.choice(["consumer", "small business", "corporate"], customers),
            "age": np.where(rng.random(customers) < 0.08, np.nan, rng.integers(18, 90, customers)),
            "signup_date": pd.Timestamp("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 1500, customers), unit="D"),
        }
    ).to_csv(folder / "customers.csv", index=False)

    products = len(CATEGORIES) * 25
    pd.DataFrame(
        {
            "product_id": np.arange(products),
            "category": np.repeat(CATEGORIES, 25),
            "unit_price": rng.gamma(2.0, 15.0, products).round(2),
        }
    ).to_csv(folder / "products.csv", index=False)

    activity = rng.pareto(1.5, customers) + 0.1
    buyer = rng.choice(ids, orders, p=activity / activity.sum())
    frame = pd.DataFrame(
        {
            "order_id": np.arange(orders),
            "customer_id": buyer,
            "product_id": rng.integers(0, products, orders),
            "quantity": rng.integers(1, 6, orders),
            "order_date": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 730, orders), unit="D"),
            "returned": rng.random(orders) < 0.06,
        }
    )
    frame.loc[rng.random(orders) < 0.01, "quantity"] = -1  # data-entry errors
    frame.loc[rng.random(orders) < 0.02, "customer_id"] = np.nan  # guest checkouts
    duplicated = frame.sample(frac=0.01, random_state=5)
    pd.concat([frame, duplicated]).to_csv(folder / "orders.csv", index=False)


def customer_features(folder: Path) -> pd.DataFrame:
    """Read, clean, join and aggregate the raw exports into one row per customer."""
    customers = pd.read_csv(folder / "customers.csv", parse_dates=["signup_date"])
    products = pd.read_csv(folder / "products.csv")
    orders = pd.read_csv(folder / "orders.csv", parse_dates=["order_date"])
    print(f"raw rows: customers {len(customers)}, products {len(products)}, orders {len(orders)}")

    orders = orders.drop_duplicates("order_id").dropna(subset=["customer_id"])
    orders = orders[orders["quantity"] > 0].astype({"customer_id": "int64"})
    customers["age"] = customers["age"].fillna(customers["age"].median())
    print(f"clean orders: {len(orders)}")

    lines = orders.merge(products, on="product_id", how="inner")
    lines["revenue"] = lines["quantity"] * lines["unit_price"] * ~lines["returned"]
    before = lines[lines["order_date"] < CUTOFF]
    after = lines[lines["order_date"] >= CUTOFF]

    features = before.groupby("customer_id").agg(
        orders=("order_id", "count"),
        revenue=("revenue", "sum"),
        mean_quantity=("quantity", "mean"),
        return_rate=("returned", "mean"),
        categories=("category", "nunique"),
        last_order=("order_date", "max"),
    )
    features["days_since_last"] = (CUTOFF - features.pop("last_order")).dt.days
    features["revenue_per_order"] = features["revenue"] / features["orders"]
    spend_by_category = before.pivot_table(
        index="customer_id", columns="category", values="revenue", aggfunc="sum", fill_value=0.0
    ).add_prefix("spend_")
    features = features.join(spend_by_category).reset_index()
    features = features.merge(customers, on="customer_id", how="left")
    features["tenure_days"] = (CUTOFF - features.pop("signup_date")).dt.days
    features["returning"] = features["customer_id"].isin(after["customer_id"]).astype(int)
    return features.round(6)


def main() -> None:
    quick, folder = options()
    folder.mkdir(parents=True, exist_ok=True)
    write_raw_exports(folder, 2_000 if quick else 60_000, 20_000 if quick else 1_200_000)

    features = customer_features(folder)
    features.to_csv(folder / "customer_features.csv", index=False)
    features.to_parquet(folder / "customer_features.parquet", index=False)
    print(f"feature table: {features.shape[0]} rows x {features.shape[1]} columns")
    print(f"returning share: {features['returning'].mean():.6f}")
    print(f"revenue total: {features['revenue'].sum():.2f}")

    table = pd.read_parquet(folder / "customer_features.parquet")
    print(f"parquet read back equal: {table.equals(features)}")
    table = pd.get_dummies(table, columns=["region", "segment"], dtype=float)
    X = table.drop(columns=["customer_id", "returning"])
    y = table["returning"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=7)
    model = HistGradientBoostingClassifier(max_iter=200, random_state=0)
    model.fit(X_train, y_train)
    print(f"test accuracy: {model.score(X_test, y_test):.6f}")

    scored = pd.DataFrame(
        {
            "customer_id": table.loc[X_test.index, "customer_id"],
            "returning_probability": model.predict_proba(X_test)[:, 1].round(6),
        }
    )
    output = folder / "returning_predictions.csv"
    scored.to_csv(output, index=False)
    print(f"predictions: {len(scored)}, mean {scored['returning_probability'].mean():.6f}")
    print(f"predictions file sha256: {hashlib.sha256(output.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
