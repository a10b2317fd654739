"""Warnings raised inside instrumented calls point where they do without mlspan.

pandas attributes a warning to the first frame outside pandas and checks it in its own
tests (``tm.assert_produces_warning`` verifies the file); scikit-learn uses fixed stack
levels. Between the library and the caller sit mlspan's wrapper frames, which must not
take the attribution.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pandas._testing as tm
import pytest

from mlspan.instrumentation.warning_location import MARKER
from tests.instrumentation.instrumented import instrumented


def test_a_pandas_warning_from_an_instrumented_writer_points_at_the_caller() -> None:
    frame = pd.DataFrame({"when": pd.to_timedelta(np.arange(3), unit="s")})
    with instrumented() as exporter:
        assert getattr(warnings.warn, MARKER, False)
        with tm.assert_produces_warning(
            pd.errors.Pandas4Warning, match="epoch", check_stacklevel=True
        ):
            frame.to_json()
    assert [span.name for span in exporter.get_finished_spans()] == ["to_json"]
    assert not getattr(warnings.warn, MARKER, False)  # restored by uninstrument


def test_a_fixed_stacklevel_warning_from_an_instrumented_fit_keeps_its_line() -> None:
    from sklearn.base import BaseEstimator

    class Noisy(BaseEstimator):
        def fit(self, x: object, y: object = None) -> Noisy:
            warnings.warn("about your call", UserWarning, stacklevel=2)
            return self

    def attributed() -> tuple[str, int]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Noisy().fit(np.ones((3, 1)))
        return caught[0].filename, caught[0].lineno

    plain = attributed()
    with instrumented():
        assert attributed() == plain == (__file__, plain[1])


def test_warnings_outside_instrumented_calls_are_untouched() -> None:
    with instrumented(), pytest.warns(UserWarning) as caught:
        warnings.warn("direct", UserWarning, stacklevel=1)
    assert caught[0].filename == __file__
