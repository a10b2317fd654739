"""Online accumulation: flush by rows, by age (injected clock), on demand; merged exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlspan.instrumentation.online import FrameRows, ModelKey, OnlineAccumulator, OnlineBatch
from mlspan.instrumentation.options import InstrumentationOptions
from mlspan.instrumentation.summarize import Summarizer
from mlspan.summaries import NumericalSummary

KEY = ModelKey("model:xxh3_128:" + "0" * 32, "Ridge", (("k", "v"),))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def accumulator(
    flush_rows: int, flush_seconds: float, clock: Clock
) -> tuple[OnlineAccumulator, list[OnlineBatch]]:
    """An accumulator that emits inline (no thread), for deterministic assertions."""
    batches: list[OnlineBatch] = []
    summarizer = Summarizer.from_options(InstrumentationOptions())
    online = OnlineAccumulator(
        summarizer, batches.append, flush_rows, flush_seconds, clock, background=False
    )
    return online, batches


def test_flushes_when_the_oldest_call_is_old_enough() -> None:
    clock = Clock()
    online, batches = accumulator(1000, 30.0, clock)
    try:
        online.add(KEY, np.ones((2, 3)), np.zeros(2), 2)
        clock.now = 10.0
        online.add(KEY, np.ones((1, 3)), np.zeros(1), 1)
        assert not batches
        clock.now = 31.0
        online.add(KEY, np.ones((1, 3)), np.zeros(1), 1)
        (batch,) = batches
        assert (batch.calls, batch.rows) == (3, 4)
        clock.now = 100.0
        online.add(KEY, np.ones((1, 3)), np.zeros(1), 1)  # a new buffer, started now
        online.flush(only_due=True)
        assert len(batches) == 1
        online.flush()
        assert len(batches) == 2
    finally:
        online.close()


def test_merged_summaries_equal_the_summary_of_all_rows_and_snapshots_are_private() -> None:
    clock = Clock()
    online, batches = accumulator(10_000, 60.0, clock)
    rng = np.random.default_rng(0)
    parts = [pd.DataFrame(rng.normal(size=(3, 2)), columns=["a", "b"]) for _ in range(5)]
    for part in parts:
        online.add(KEY, part, part["a"].to_numpy() > 0, len(part))
    parts[0].iloc[0, 0] = 1e9  # a later in-place change must not reach the summaries
    online.close()
    (batch,) = batches
    by_name = {s.name: s for s in batch.summaries}
    stats = by_name["a"].stats
    assert isinstance(stats, NumericalSummary)
    assert stats.count == 15 and stats.moments.max < 1e9
    assert by_name["prediction"].stats.count == 15
    assert batch.calls == 5


def test_numeric_frames_are_snapshotted_as_plain_rows() -> None:
    frame = pd.DataFrame({"a": [1.0], "b": [2.0]})
    rows = FrameRows.of(frame)
    assert rows is not None
    frame.iloc[0, 0] = 5.0
    assert rows.to_frame().iloc[0, 0] == 1.0
    assert FrameRows.of(pd.DataFrame({"s": ["x"]})) is None


def test_the_background_thread_emits_due_buffers_off_the_calling_thread() -> None:
    import threading
    import time

    emitted_by: list[str] = []
    summarizer = Summarizer.from_options(InstrumentationOptions())

    def emit(batch: OnlineBatch) -> None:
        emitted_by.append(threading.current_thread().name)

    online = OnlineAccumulator(summarizer, emit, flush_rows=4, flush_seconds=60.0)
    try:
        for _ in range(4):
            online.add(KEY, np.ones((1, 2)), np.zeros(1), 1)
        deadline = time.monotonic() + 10
        while not emitted_by and time.monotonic() < deadline:
            time.sleep(0.01)
        assert emitted_by == ["mlspan-online-summaries"]
    finally:
        online.close()
