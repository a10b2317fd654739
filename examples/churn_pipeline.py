"""A customer-churn pipeline written as ordinary pandas and scikit-learn code.

The module holds the pipeline only. Two hand-written steps are mlspan components, so
lineage connects where pandas and scikit-learn cannot see: ``clean`` (two raw CSV files
in, the model's feature frame out) and ``format_predictions`` (the model's probabilities
in, the frame written to CSV out). Everything else (reading and writing CSVs, fitting,
predicting, the model version) is traced by the automatic instrumentation. ``train.py``
and ``infer.py`` are the entry points.

Data is generated with a fixed seed, so every run writes byte-identical files:

* ``raw/customers.csv``, ``raw/accounts.csv`` — the training customers, as a CRM and a
  billing system export them (the account facts carry the churn label);
* ``raw/holdout_customers.csv``, ``raw/holdout_accounts.csv`` — customers held out;
* ``incoming/batch_<n>_customers.csv``, ``..._accounts.csv`` — new customers to score,
  some of them drifted; their churn labels come later (``churn_outcomes.py``), and in one
  batch the reasons customers churn changed while its inputs did not (concept drift).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlspan.instrumentation.component import component

SEED = 20240611
SERVICE_NAME = "churn-pipeline"
NUMERICAL = ["age", "tenure_months", "monthly_charges", "total_charges", "support_calls"]
CATEGORICAL = ["region", "contract", "payment_method", "channel"]
TARGET = "churned"

REGIONS = ["north", "south", "east", "west"]
REGION_P = [0.3, 0.25, 0.25, 0.2]
CONTRACTS = ["month-to-month", "one-year", "two-year"]
CONTRACT_P = [0.5, 0.3, 0.2]
PAYMENTS = ["card", "bank-transfer", "electronic-check", "mailed-check"]
PAYMENT_P = [0.35, 0.25, 0.3, 0.1]
CHANNELS = ["web", "store", "partner"]
CHANNEL_P = [0.55, 0.3, 0.15]


@dataclass(frozen=True)
class Drift:
    """What to change in a generated inference batch (all zero: same distribution)."""

    charges_shift_sigma: float = 0.0
    age_shift_years: float = 0.0
    contract_p: tuple[float, float, float] | None = None
    null_share: float = 0.0
    churn_reasons_changed: bool = False
    """Concept drift: month-to-month customers now stay and two-year ones leave (a
    competitor's offer), with the inputs drawn exactly as before."""

    def describe(self) -> str:
        """One line for people saying what was injected."""
        parts = []
        if self.churn_reasons_changed:
            parts.append("inputs unchanged, churn reasons changed (labels only)")
        if self.charges_shift_sigma:
            parts.append(f"monthly_charges +{self.charges_shift_sigma:g} sigma")
        if self.age_shift_years:
            parts.append(f"age +{self.age_shift_years:g} years")
        if self.contract_p is not None:
            parts.append(f"contract mix {'/'.join(f'{p:.0%}' for p in self.contract_p)}")
        if self.null_share:
            parts.append(f"{self.null_share:.0%} nulls in tenure_months and support_calls")
        return ", ".join(parts) or "no drift"


INFERENCE_BATCHES: tuple[Drift, ...] = (
    Drift(),
    Drift(charges_shift_sigma=1.0, age_shift_years=8.0),
    Drift(churn_reasons_changed=True),
    Drift(contract_p=(0.85, 0.1, 0.05)),
    Drift(
        charges_shift_sigma=1.0, age_shift_years=8.0, contract_p=(0.85, 0.1, 0.05), null_share=0.3
    ),
)
"""The batches ``infer.py`` scores: a clean one, one with shifted inputs, one whose inputs
are clean but whose labels follow new churn reasons, one with a shifted contract mix, then
every input drift at once."""


def _customers(rng: np.random.Generator, n: int, first_id: int, drift: Drift) -> pd.DataFrame:
    """Generate ``n`` customers with both raw tables' columns and the churn label."""
    ids = np.arange(first_id, first_id + n)
    age = np.clip(rng.normal(42 + drift.age_shift_years, 12, n), 18, 95).round()
    tenure = rng.gamma(2.0, 14.0, n).round().clip(0, 120)
    charges = rng.normal(65 + 25 * drift.charges_shift_sigma, 25, n).clip(15, 250).round(2)
    contract = rng.choice(CONTRACTS, n, p=list(drift.contract_p or CONTRACT_P))
    payment = rng.choice(PAYMENTS, n, p=PAYMENT_P)
    calls = rng.poisson(1.5, n)
    loyalty = 1.4 * (contract == "month-to-month")
    if drift.churn_reasons_changed:
        loyalty = 1.4 * (contract == "two-year") - 1.4 * (contract == "month-to-month")
    logit = (
        -1.2
        + loyalty
        - 0.03 * tenure
        + 0.015 * (charges - 65)
        + 0.35 * calls
        + 0.5 * (payment == "electronic-check")
    )
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "age": age.astype(int),
            "region": rng.choice(REGIONS, n, p=REGION_P),
            "channel": rng.choice(CHANNELS, n, p=CHANNEL_P),
            "tenure_months": tenure.astype(int),
            "monthly_charges": charges,
            # Like real billing exports: text, blank for brand-new customers.
            "total_charges": [
                "" if t == 0 else f"{c * t:.2f}" for c, t in zip(charges, tenure, strict=True)
            ],
            "contract": contract,
            "payment_method": payment,
            "support_calls": calls,
            TARGET: churned,
        }
    )
    # Messy text the cleaning step must normalise.
    messy = rng.random(n) < 0.05
    frame.loc[messy, "region"] = frame.loc[messy, "region"].str.upper() + " "
    if drift.null_share:
        for column in ("tenure_months", "support_calls"):
            frame[column] = frame[column].astype("float64")
            frame.loc[rng.random(n) < drift.null_share, column] = np.nan
    return frame


def _split_raw(frame: pd.DataFrame, customers: Path, accounts: Path) -> None:
    """Write one frame as the two raw tables a CRM and a billing system would export."""
    frame[["customer_id", "age", "region", "channel"]].to_csv(customers, index=False)
    frame.drop(columns=["age", "region", "channel"]).to_csv(accounts, index=False)


def generate_training_data(root: Path, rows: int = 16_000) -> dict[str, tuple[Path, Path]]:
    """Write the training and holdout raw tables under ``root/raw``; return their paths."""
    raw = root / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    paths = {}
    for part, size, first_id in (("train", rows, 1), ("holdout", rows // 4, rows + 1)):
        frame = _customers(rng, size, first_id, Drift())
        # A few duplicated exports, as billing systems produce.
        frame = pd.concat([frame, frame.sample(size // 400, random_state=SEED)])
        prefix = "" if part == "train" else f"{part}_"
        customers, accounts = raw / f"{prefix}customers.csv", raw / f"{prefix}accounts.csv"
        _split_raw(frame, customers, accounts)
        paths[part] = (customers, accounts)
    return paths


def generate_batch_frame(index: int, drift: Drift, rows: int = 3_000) -> pd.DataFrame:
    """Inference batch ``index`` with its churn labels (the same rows on every call)."""
    rng = np.random.default_rng(SEED + 1 + index)
    return _customers(rng, rows, 1_000_000 * (index + 1), drift)


def generate_batch(root: Path, index: int, drift: Drift, rows: int = 3_000) -> tuple[Path, Path]:
    """Write inference batch ``index`` (no label column) under ``root/incoming``."""
    incoming = root / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    frame = generate_batch_frame(index, drift, rows).drop(columns=[TARGET])
    customers = incoming / f"batch_{index}_customers.csv"
    accounts = incoming / f"batch_{index}_accounts.csv"
    _split_raw(frame, customers, accounts)
    return customers, accounts


def unique_customers(frame: pd.DataFrame) -> tuple[bool, str]:
    """Check on the cleaned frame: one row per customer."""
    duplicated = int(frame.index.duplicated().sum())
    return duplicated == 0, f"{duplicated} duplicated customer ids"


@component(
    "clean-customers",
    owner="data-team",
    tags=["churn"],
    inputs=["customers_csv", "accounts_csv"],
    after=[unique_customers],
)
def clean(customers_csv: Path, accounts_csv: Path) -> pd.DataFrame:
    """Read both raw tables, join them, fix what the exports get wrong, and return the
    model's feature columns indexed by customer id.

    The step is an mlspan component: both files are its inputs and the returned frame
    its output, so lineage runs from the raw files to whatever fits or predicts on it.
    Nulls are kept on purpose: imputation belongs to the model pipeline, and the null
    rates are what drift detection must see.
    """
    customers = pd.read_csv(customers_csv)
    accounts = pd.read_csv(accounts_csv)
    frame = customers.merge(accounts, on="customer_id", how="inner")
    frame = frame.drop_duplicates(subset="customer_id").set_index("customer_id")
    frame["region"] = frame["region"].str.strip().str.lower()
    charges = pd.to_numeric(frame["total_charges"], errors="coerce")
    frame["total_charges"] = charges.fillna(0.0)
    for column in CATEGORICAL:
        frame[column] = frame[column].astype("string")
    return frame.sort_index()[NUMERICAL + CATEGORICAL]


def labels(accounts_csv: Path, customers: pd.Index) -> pd.Series:
    """The churn label of each of ``customers``, from the billing export."""
    accounts = pd.read_csv(accounts_csv, usecols=["customer_id", TARGET])
    target: pd.Series = accounts.drop_duplicates("customer_id").set_index("customer_id")[TARGET]
    return target.loc[customers]


def build_model() -> Pipeline:
    """Scaling and one-hot encoding in a ColumnTransformer, then gradient boosting."""
    numerical = Pipeline(
        [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
    )
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    features = ColumnTransformer(
        [("numerical", numerical, NUMERICAL), ("categorical", categorical, CATEGORICAL)]
    )
    estimator = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, random_state=SEED)
    return Pipeline([("features", features), ("classifier", estimator)])


@dataclass(frozen=True)
class TrainResult:
    """Where training left its outputs, and how good the model is."""

    model_path: Path
    predictions_path: Path
    accuracy: float


def train(
    root: Path, validated: Callable[[Pipeline, np.ndarray, pd.Series], None] | None = None
) -> TrainResult:
    """Generate data, clean it, fit the model, score the holdout and save everything;
    ``validated(model, probabilities, labels)`` gets the holdout's predicted
    probabilities and true labels."""
    raw = generate_training_data(root)
    features = clean(*raw["train"])
    model = build_model().fit(features, labels(raw["train"][1], features.index))
    holdout = clean(*raw["holdout"])
    truth = labels(raw["holdout"][1], holdout.index)
    accuracy = float(model.score(holdout, truth))
    probabilities = model.predict_proba(holdout)
    if validated is not None:
        validated(model, probabilities, truth)
    predictions_path = save_predictions(
        probabilities, holdout.index, root / "predictions" / "holdout.csv"
    )
    models = root / "models"
    models.mkdir(parents=True, exist_ok=True)
    model_path = models / "churn.pkl"
    model_path.write_bytes(pickle.dumps(model))
    return TrainResult(model_path, predictions_path, accuracy)


@component("format-predictions", owner="ml-team", inputs=["probabilities"])
def format_predictions(probabilities: np.ndarray, customers: pd.Index) -> pd.DataFrame:
    """The churn probability and decision per customer, from ``predict_proba``'s output.

    A component, so lineage links the model's output array to the frame written out.
    """
    churn = probabilities[:, 1]
    return pd.DataFrame(
        {"churn_probability": churn.round(4), "churn": (churn >= 0.5).astype(int)},
        index=customers,
    )


def write_predictions(model: Any, features: pd.DataFrame, path: Path) -> Path:
    """Predict for every row of ``features`` and write the predictions CSV to ``path``."""
    return save_predictions(model.predict_proba(features), features.index, path)


def save_predictions(probabilities: np.ndarray, customers: pd.Index, path: Path) -> Path:
    """Write the predictions CSV of ``predict_proba``'s output to ``path``."""
    predictions = format_predictions(probabilities, customers)
    path.parent.mkdir(parents=True, exist_ok=True)
    predictions.to_csv(path)
    return path


def load_model(path: Path) -> Pipeline:
    """Load a model that ``train`` saved (only ever load pickles you wrote yourself)."""
    model: Pipeline = pickle.loads(path.read_bytes())
    return model


Keyed = Callable[[Pipeline, pd.Index, int], AbstractContextManager[Any]]
"""Wraps the model for batch ``n``: what it predicts is logged under the customer ids."""


def score_batch(
    model: Pipeline, root: Path, index: int, drift: Drift, keyed: Keyed | None = None
) -> Path:
    """Generate batch ``index``, clean it, predict and write its predictions CSV."""
    features = clean(*generate_batch(root, index, drift))
    path = root / "predictions" / f"batch_{index}.csv"
    if keyed is None:
        return write_predictions(model, features, path)
    with keyed(model, features.index, index) as scored:
        return write_predictions(scored, features, path)


def infer(
    root: Path,
    batches: tuple[Drift, ...] = INFERENCE_BATCHES,
    report: Callable[[int, Drift, Path], None] | None = None,
    only: int | None = None,
    keyed: Keyed | None = None,
) -> list[Path]:
    """Score every batch (or batch ``only``) with the saved model; return the
    prediction files in order."""
    model = load_model(root / "models" / "churn.pkl")
    paths = []
    for index, drift in enumerate(batches):
        if only is not None and index != only:
            continue
        path = score_batch(model, root, index, drift, keyed)
        if report is not None:
            report(index, drift, path)
        paths.append(path)
    return paths
