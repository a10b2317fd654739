"""Summaries of large inputs, built on a worker thread while the estimator runs.

Summarising 100k x 20 values costs tens of milliseconds, mostly sorting (which releases
the GIL) and moments (numpy). Started when the call starts, on a private snapshot of the
input, that work overlaps the estimator's own computation, and the span waits for it
only when the call returns. The snapshot is free for pandas >= 3 (copy-on-write) and a
memory copy otherwise, so an estimator or caller changing the input in place cannot
alter what is summarised. Small inputs are summarised inline: a thread hand-off would
cost more than the work.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final

import numpy as np

from mlspan.instrumentation.features import is_pandas_frame, is_pandas_series, is_sparse, shape_of
from mlspan.instrumentation.summarize import SummaryCache
from mlspan.semconv import FeatureKind, FeatureOrigin
from mlspan.summaries import FeatureSummary

_logger = logging.getLogger(__name__)

BACKGROUND_MIN_CELLS: Final = 100_000
"""Inputs with fewer cells are summarised inline."""

Pending = Callable[[], list[FeatureSummary]]
"""Returns the summaries once they are ready ([] when building them failed)."""


class BackgroundSummaries:
    """A one-thread pool building summaries of large inputs off the caller's path."""

    def __init__(self, cache: SummaryCache, min_cells: int = BACKGROUND_MIN_CELLS) -> None:
        self._cache = cache
        self._min_cells = min_cells
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False

    def submit(
        self,
        data: object,
        digest: str | None,
        origin: FeatureOrigin,
        prefix: str,
        kinds: Mapping[str, FeatureKind] | None = None,
    ) -> Pending:
        """Start summarising ``data``; the returned callable waits for the result."""
        shape = shape_of(data)
        cells = shape[0] * shape[1] if shape else 0
        pool = self._executor() if cells >= self._min_cells else None
        copy = _private_copy(data) if pool is not None else None
        if pool is None or copy is None:
            summaries = self._cache.summarize(data, digest, origin, prefix, kinds)
            return lambda: summaries
        future = pool.submit(self._cache.summarize, copy, digest, origin, prefix, kinds)
        return lambda: _result(future)

    def close(self) -> None:
        """Wait for running work and stop the thread."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _executor(self) -> ThreadPoolExecutor | None:
        with self._lock:
            if self._closed:
                return None
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="mlspan-summaries")
            return self._pool


def _result(future: Future[list[FeatureSummary]]) -> list[FeatureSummary]:
    try:
        return future.result()
    except Exception:
        _logger.warning("mlspan could not summarise an input", exc_info=True)
        return []


def _private_copy(data: object) -> Any:
    """A copy of ``data`` that in-place changes to the original cannot reach, or None."""
    if isinstance(data, np.ndarray):
        return data.copy()
    if is_pandas_frame(data) or is_pandas_series(data):
        pandas = sys.modules["pandas"]
        copy_on_write = int(str(pandas.__version__).split(".")[0]) >= 3
        return data.copy(deep=not copy_on_write)  # type: ignore[attr-defined]
    if is_sparse(data):
        return data.copy()  # type: ignore[attr-defined]
    return None
