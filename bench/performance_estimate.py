"""Estimated vs realised accuracy: mlspan's confidence-based estimate beside NannyML's CBPE.

    .venv/bin/python bench/performance_estimate.py [--chunk 10000] [--chunks 4]

Binary scikit-learn models are fitted on 20,000 rows of ``make_classification`` data;
the next 10,000 rows are the labelled reference (what both tools calibrate on), the
following ``--chunks`` chunks of ``--chunk`` rows the analysis data, with no concept
drift. For every chunk it prints the realised accuracy and F1 on the labels, and the
estimates of

* mlspan, from what the collector holds: the chunk's calibration bins of p(positive)
  (rows and probability sums only) and the per-bin ``Calibration`` learnt from the
  reference window's labelled bins, and the same from a KLL sketch of p(positive);
* NannyML 0.13.1 ``CBPE`` (fitted on the reference rows, chunked like mlspan), in its own
  virtualenv ``bench/.venv-nannyml`` (created with pip on first use) and subprocess.

Goal: mlspan's estimate within 0.02 of the realised accuracy on every chunk.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import venv
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.naive_bayes import GaussianNB

from mlspan.collector.performance.estimate import (
    Calibration,
    expected_binary,
    expected_binary_from_bins,
    weighted_scores,
)
from mlspan.summaries.performance import sketch_of
from mlspan.summaries.performance_build import classification_summary

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-nannyml"
REQUIREMENTS = ("nannyml==0.13.1", "statsmodels", "pandas<3")
FIT_ROWS = 20_000
REFERENCE_ROWS = 10_000

NANNYML_SCRIPT = """
import json, sys, warnings
import numpy as np, pandas as pd
import nannyml as nml
warnings.filterwarnings("ignore")
data = np.load(sys.argv[1]); chunk = int(sys.argv[2])
def frame(prefix):
    return pd.DataFrame({
        "y_pred_proba": data[prefix + "_p"], "y_pred": data[prefix + "_pred"],
        "y_true": data[prefix + "_y"],
    })
cbpe = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="y_true",
                problem_type="classification_binary", metrics=["accuracy", "f1"],
                chunk_size=chunk)
cbpe.fit(frame("ref"))
result = cbpe.estimate(frame("cur").drop(columns=["y_true"])).filter(period="analysis").to_df()
print(json.dumps({"accuracy": result[("accuracy", "value")].tolist(),
                  "f1": result[("f1", "value")].tolist()}))
"""


def ensure_nannyml() -> Path:
    """The benchmark virtualenv's python, created with NannyML on first use."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV} and installing {' '.join(REQUIREMENTS)} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    check = subprocess.run(
        [str(python), "-c", "import nannyml; print(nannyml.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0 or check.stdout.strip() != "0.13.1":
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    return python


def nannyml_estimates(python: Path, arrays: dict[str, Any], chunk: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "scores.npz"
        np.savez(data, **arrays)
        done = subprocess.run(
            [str(python), "-c", NANNYML_SCRIPT, str(data), str(chunk)],
            capture_output=True,
            text=True,
            check=True,
        )
    result: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--chunks", type=int, default=4)
    args = parser.parse_args()
    rows = FIT_ROWS + REFERENCE_ROWS + args.chunk * args.chunks
    x, y = make_classification(rows, 20, n_informative=6, flip_y=0.05, random_state=7)
    models = {
        "logistic regression": LogisticRegression(max_iter=1000),
        "gradient boosting": HistGradientBoostingClassifier(random_state=0),
        "naive Bayes, calibrated (CV)": CalibratedClassifierCV(GaussianNB(), cv=3),
        "naive Bayes (miscalibrated)": GaussianNB(),
    }
    python = ensure_nannyml()
    print(
        f"{'model':30} {'chunk':>5} {'realised':>9} {'mlspan bins':>12} {'mlspan KLL':>11}"
        f" {'NannyML':>8} {'F1 real':>8} {'mlspan F1':>10} {'NannyML F1':>11}"
    )
    worst = {"mlspan bins": 0.0, "mlspan KLL": 0.0, "NannyML": 0.0}
    for name, model in models.items():
        model.fit(x[:FIT_ROWS], y[:FIT_ROWS])
        ref = slice(FIT_ROWS, FIT_ROWS + REFERENCE_ROWS)
        cur = slice(FIT_ROWS + REFERENCE_ROWS, rows)
        ref_p, cur_p = model.predict_proba(x[ref])[:, 1], model.predict_proba(x[cur])[:, 1]
        ref_pred, cur_pred = model.predict(x[ref]), model.predict(x[cur])
        reference = classification_summary(
            y[ref], ref_pred, np.c_[1 - ref_p, ref_p], model.classes_
        )
        assert reference.probability is not None
        calibration = Calibration.from_bins(reference.probability.classes["1"])
        arrays = {"ref_p": ref_p, "ref_pred": ref_pred, "ref_y": y[ref]}
        arrays |= {"cur_p": cur_p, "cur_pred": cur_pred, "cur_y": y[cur]}
        theirs = nannyml_estimates(python, arrays, args.chunk)
        for i in range(args.chunks):
            part = slice(i * args.chunk, (i + 1) * args.chunk)
            truth, pred, p = y[cur][part], cur_pred[part], cur_p[part]
            summary = classification_summary(truth, pred, np.c_[1 - p, p], model.classes_)
            assert summary.probability is not None
            bins = expected_binary_from_bins(
                summary.probability.classes["1"], ("0", "1"), calibration
            )
            values, weights = weighted_scores(sketch_of(p, 200))
            kll = expected_binary(values, weights, calibration=calibration)
            realised = accuracy_score(truth, pred)
            estimates = {
                "mlspan bins": bins.accuracy(),
                "mlspan KLL": kll.accuracy(),
                "NannyML": theirs["accuracy"][i],
            }
            for key, value in estimates.items():
                worst[key] = max(worst[key], abs(value - realised))
            print(
                f"{name:30} {i:>5} {realised:>9.4f} {estimates['mlspan bins']:>12.4f}"
                f" {estimates['mlspan KLL']:>11.4f} {estimates['NannyML']:>8.4f}"
                f" {f1_score(truth, pred):>8.4f} {bins.metrics()['f1_positive']:>10.4f}"
                f" {theirs['f1'][i]:>11.4f}"
            )
    for key, value in worst.items():
        print(f"largest |estimated - realised| accuracy, {key}: {value:.4f}")


if __name__ == "__main__":
    main()
