"""An online scoring loop: one model fitted once, then one request at a time.

A fraud-style classifier (scaling + logistic regression on a generated transaction
table) is fitted once; then each incoming transaction, a one-row DataFrame, is scored
on its own, as a web handler or a stream consumer would. The loop prints a checksum of
every decision and probability so runs can be compared.

Usage: python online_predicts.py [--quick]   (or WORKLOAD_QUICK=1)
"""

from __future__ import annotations

import argparse
import hashlib
import os

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

COLUMNS = ["amount", "hour", "merchant_risk", "distance_km", "card_age_days", "attempts"]


def quick_mode() -> bool:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small version (~1-3 s)")
    args = parser.parse_args()
    return args.quick or os.environ.get("MLSPAN_WORKLOAD_QUICK") == "1"


def transactions(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3.5, 1.2, rows).round(2),
            "hour": rng.integers(0, 24, rows),
            "merchant_risk": rng.beta(2, 8, rows).round(4),
            "distance_km": rng.exponential(20.0, rows).round(1),
            "card_age_days": rng.integers(1, 3000, rows),
            "attempts": rng.poisson(0.3, rows) + 1,
        }
    )


def main() -> None:
    quick = quick_mode()
    rng = np.random.default_rng(99)
    history = transactions(20_000, rng)
    risk = (
        0.004 * history["amount"]
        + 3.0 * history["merchant_risk"]
        + 0.8 * (history["attempts"] - 1)
        + 0.5 * ((history["hour"] < 6) | (history["hour"] > 22))
        - 0.0005 * history["card_age_days"]
        + rng.normal(0.0, 0.5, len(history))
    )
    labels = (risk > 1.2).astype(int)
    model = Pipeline([("scale", StandardScaler()), ("classify", LogisticRegression())])
    model.fit(history, labels)
    print(f"fraud share in history: {labels.mean():.6f}")

    incoming = transactions(300 if quick else 4_000, rng)
    digest = hashlib.sha256()
    flagged = 0
    for index in range(len(incoming)):
        request = incoming.iloc[[index]]
        decision = int(model.predict(request)[0])
        flagged += decision
        digest.update(f"{index}:{decision};".encode())
        if decision:
            probability = float(model.predict_proba(request)[0, 1])
            digest.update(f"{probability:.9f};".encode())
    print(f"requests scored: {len(incoming)}")
    print(f"flagged: {flagged}")
    print(f"decisions checksum: {digest.hexdigest()}")


if __name__ == "__main__":
    main()
