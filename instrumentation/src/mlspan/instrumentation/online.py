"""Online serving: summaries of many small predict calls, emitted as one summary span.

Summarising a one-row call costs more than the call itself, and a summary per call
would flood the backend. Small calls therefore only snapshot their input and output
(a cheap copy) into a buffer per model; once the buffer holds ``flush_rows`` rows, or
its first call is ``flush_seconds`` old, a background thread summarises it in one go and
hands it to the emitter, which records it as one span of operation ``summary`` carrying
``mlspan.summary.calls``. The same thread flushes buffers that grow old while no call
arrives; ``flush()`` empties every buffer (at uninstrument and at interpreter exit).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlspan.instrumentation.features import is_pandas_frame, is_pandas_series, is_sparse
from mlspan.instrumentation.summarize import Summarizer
from mlspan.semconv import FeatureKind, FeatureOrigin
from mlspan.summaries import FeatureSummary

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelKey:
    """Identity of the model whose calls share a buffer; ``attributes`` go on the span."""

    version: str
    name: str
    attributes: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class OnlineBatch:
    """The merged summaries of ``calls`` calls with ``rows`` rows of one model."""

    key: ModelKey
    calls: int
    rows: int
    summaries: tuple[FeatureSummary, ...]


@dataclass
class _Buffer:
    started: float
    inputs: list[object] = field(default_factory=list)
    outputs: list[object] = field(default_factory=list)
    calls: int = 0
    rows: int = 0
    kinds: Mapping[str, FeatureKind] | None = None


class OnlineAccumulator:
    """Per-model buffers of small calls, flushed by rows, by age and on demand."""

    def __init__(
        self,
        summarizer: Summarizer,
        emit: Callable[[OnlineBatch], None],
        flush_rows: int,
        flush_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
    ) -> None:
        self._summarizer = summarizer
        self._background = background
        self._emit = emit
        self._flush_rows = flush_rows
        self._flush_seconds = flush_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._buffers: dict[ModelKey, _Buffer] = {}
        self._ready: list[tuple[ModelKey, _Buffer]] = []
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(
        self,
        key: ModelKey,
        inputs: object,
        outputs: object,
        rows: int,
        kinds: Mapping[str, FeatureKind] | None = None,
    ) -> None:
        """Buffer a snapshot of one call's input and output.

        A buffer that became due is handed to the background thread, so the call that
        crosses the threshold does not pay for summarising thousands of rows.
        """
        now = self._clock()
        snapshot_in, snapshot_out = snapshot(inputs), snapshot(outputs)
        inline = False
        with self._lock:
            buffer = self._buffers.get(key)
            if buffer is None:
                buffer = self._buffers[key] = _Buffer(started=now, kinds=kinds)
                self._ensure_thread()
            buffer.inputs.append(snapshot_in)
            buffer.outputs.append(snapshot_out)
            buffer.calls += 1
            buffer.rows += rows
            due = buffer.rows >= self._flush_rows or now - buffer.started >= self._flush_seconds
            if due:
                del self._buffers[key]
                self._ready.append((key, buffer))
                inline = self._thread is None or self._stop.is_set()
        if due:
            if inline:
                self._emit_ready()
            else:
                self._wake.set()

    def flush(self, only_due: bool = False) -> None:
        """Emit the buffers handed over and every buffer (or only those old enough)."""
        self._emit_ready()
        now = self._clock()
        with self._lock:
            keys = [
                key
                for key, buffer in self._buffers.items()
                if not only_due or now - buffer.started >= self._flush_seconds
            ]
            taken = [(key, self._buffers.pop(key)) for key in keys]
        for key, buffer in taken:
            self._emit_buffer(key, buffer)

    def close(self) -> None:
        """Flush everything and stop the background thread."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self.flush()

    def _ensure_thread(self) -> None:
        if self._background and self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(
                target=self._run, name="mlspan-online-summaries", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        interval = max(0.05, self._flush_seconds / 4)
        while not self._stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.flush(only_due=True)
            except Exception:
                _logger.warning("online summary flush failed", exc_info=True)

    def _emit_ready(self) -> None:
        with self._lock:
            ready, self._ready = self._ready, []
        for key, buffer in ready:
            self._emit_buffer(key, buffer)

    def _emit_buffer(self, key: ModelKey, buffer: _Buffer) -> None:
        try:
            summaries = [
                *self._merged(buffer.inputs, FeatureOrigin.INPUT, "x", buffer.kinds),
                *self._merged(buffer.outputs, FeatureOrigin.PREDICTION, "prediction", None),
            ]
            self._emit(OnlineBatch(key, buffer.calls, buffer.rows, tuple(summaries)))
        except Exception:
            _logger.warning("cannot emit online summaries of %s", key.name, exc_info=True)

    def _merged(
        self,
        parts: Sequence[object],
        origin: FeatureOrigin,
        prefix: str,
        kinds: Mapping[str, FeatureKind] | None,
    ) -> list[FeatureSummary]:
        combined = concatenate(parts)
        if combined is not None:
            return self._summarizer.summarize(combined, origin, prefix, kinds)
        merged: dict[str, FeatureSummary] = {}
        for part in parts:
            data = part.to_frame() if isinstance(part, FrameRows) else part
            for summary in self._summarizer.summarize(data, origin, prefix, kinds):
                previous = merged.get(summary.name)
                if previous is None:
                    merged[summary.name] = summary
                elif previous.kind is summary.kind:
                    merged[summary.name] = previous.merge(summary)
        return list(merged.values())


class RootSpanPacer:
    """When a one-row call made outside any trace gets a root span of its own.

    A serving loop with no request tracing around it would otherwise make one root trace
    per call (~100-300 us each with export, more than the prediction itself). At most one
    such call per ``seconds`` gets a span; the others only feed the accumulated summary
    span, whose ``mlspan.summary.calls`` counts them all. The last real span also tells
    whether the tracer records at all (nothing is accumulated when it does not).
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._next = 0.0
        self.recording = False
        """Whether the last root span was recording."""

    def due(self) -> bool:
        """Whether the next bare one-row call gets a root span."""
        return self._clock() >= self._next

    def recorded(self, recording: bool) -> None:
        """A root span was just started; the next is due ``seconds`` from now."""
        self.recording = recording
        self._next = self._clock() + self._seconds


@dataclass(frozen=True)
class FrameRows:
    """The rows of a DataFrame whose columns share one numeric dtype, as a plain array.

    Copying a small numeric frame's values costs a few microseconds where copying the
    frame costs tens, and thousands of them concatenate as one array.
    """

    columns: Any
    values: Any

    @classmethod
    def of(cls, frame: Any) -> FrameRows | None:
        """The rows of ``frame``, or None when its columns do not share a numeric dtype."""
        values = frame.to_numpy()
        if values.dtype.kind not in "fiu" or values.ndim != 2:
            return None
        return cls(frame.columns, np.array(values, copy=True))

    def to_frame(self) -> Any:
        """The rows as a DataFrame again."""
        return sys.modules["pandas"].DataFrame(self.values, columns=self.columns)


def snapshot(data: object) -> object:
    """A copy of a small input that later in-place changes by the caller cannot alter."""
    if isinstance(data, np.ndarray):
        return data.copy()
    if is_pandas_frame(data):
        rows = FrameRows.of(data)
        return rows if rows is not None else data.copy()  # type: ignore[attr-defined]
    if is_pandas_series(data) or is_sparse(data):
        return data.copy()  # type: ignore[attr-defined]
    if isinstance(data, list):
        return np.asarray(data)
    return data


def concatenate(parts: Sequence[object]) -> Any:
    """The row-wise concatenation of same-typed parts, or None when they do not stack."""
    if not parts:
        return None
    try:
        if all(isinstance(p, FrameRows) for p in parts):
            first: Any = parts[0]
            rows: list[Any] = list(parts)
            same_columns = all(
                r.columns is first.columns or r.columns.equals(first.columns) for r in rows
            )
            if same_columns and len({r.values.dtype for r in rows}) == 1:
                values = np.concatenate([r.values for r in rows], axis=0)
                return FrameRows(first.columns, values).to_frame()
            return None
        if all(is_pandas_frame(p) for p in parts) or all(is_pandas_series(p) for p in parts):
            # Only identical layouts: mixed dtypes would make pandas warn or upcast.
            if len({_layout(p) for p in parts}) == 1:
                return sys.modules["pandas"].concat(list(parts), ignore_index=True)
            return None
        if all(is_sparse(p) for p in parts):
            return sys.modules["scipy.sparse"].vstack(list(parts))
        if all(isinstance(p, np.ndarray) for p in parts):
            arrays: list[Any] = list(parts)
            if len({a.shape[1:] for a in arrays}) == 1 and len({a.dtype for a in arrays}) == 1:
                return np.concatenate(arrays, axis=0)
    except Exception:
        _logger.debug("cannot concatenate online snapshots", exc_info=True)
    return None


def _layout(data: Any) -> tuple[object, ...]:
    if is_pandas_series(data):
        return (str(data.name), str(data.dtype))
    return (tuple(str(c) for c in data.columns), tuple(str(d) for d in data.dtypes))
