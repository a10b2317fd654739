"""A small instrumented pipeline whose every name is an HTML injection attempt.

Run as a script (``python hostile_pipeline.py OTLP_HTTP_ENDPOINT FOLDER``): the service,
a component, its owner and tag, two feature columns, the categories of one of them and
the files read and written carry ``<script>`` and ``"><img onerror=...>`` payloads.
Each payload sets ``window.__xss`` if a page ever runs it. Real instrumentation (one
``configure()`` call, scikit-learn and pandas) sends the spans over OTLP/HTTP.
"""

from __future__ import annotations

import sys
from pathlib import Path

SCRIPT = "<script>window.__xss=1</script>"
IMG = '"><img src=x onerror="window.__xss=2">'
SERVICE = "<img src=x onerror=window.__xss=3>"
OUTPUT_NAME = "<img src=x onerror=window.__xss=4>.csv"
"""A file name cannot hold ``/``, so no ``</script>`` here."""


def main(endpoint: str, folder: Path) -> None:
    from mlspan.instrumentation import configure

    provider = configure(service_name=SERVICE, endpoint=endpoint, protocol="http/protobuf")

    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from mlspan.instrumentation.component import component

    rng = np.random.default_rng(7)

    def frame(rows: int, shift: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                SCRIPT: rng.normal(shift, 1.0, rows),
                IMG: rng.choice(
                    [SCRIPT, IMG, "plain"], rows, p=[0.2, 0.3 + shift / 4, 0.5 - shift / 4]
                ),
            }
        )

    train_csv = folder / f"{IMG}.csv"
    frame(2000, 0.0).to_csv(train_csv, index=False)
    labels = rng.integers(0, 2, 2000)
    prepare = component(SCRIPT, owner=IMG, tags=[IMG], inputs=["path"])

    @prepare
    def load(path: Path) -> pd.DataFrame:
        return pd.read_csv(path)

    model = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [
                        ("number", "passthrough", [SCRIPT]),
                        ("category", OneHotEncoder(handle_unknown="ignore"), [IMG]),
                    ]
                ),
            ),
            ("classify", LogisticRegression()),
        ]
    )
    model.fit(load(train_csv), labels)
    scored = frame(1500, 1.0)
    scored["prediction"] = model.predict(scored)
    scored.to_csv(folder / OUTPUT_NAME, index=False)
    provider.force_flush()
    provider.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
