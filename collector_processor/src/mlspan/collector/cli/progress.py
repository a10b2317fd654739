"""Progress on stderr while a command waits on the collector.

A query that answers within ``DELAY_SECONDS`` prints nothing extra. A longer one (a deep
trace over a large store, ``mlspan drift --close`` evaluating every open window) shows
``<what>: waiting for the collector... N s`` on stderr, rewritten in place each second
and erased when the answer arrives. Only on a terminal: piped or captured stderr (scripts,
tests) stays as it was.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, TextIO

DELAY_SECONDS: Final = 1.0
"""Waits shorter than this show nothing."""
TICK_SECONDS: Final = 1.0


@contextmanager
def waiting(what: str, stream: TextIO | None = None) -> Iterator[None]:
    """Show how long the enclosed call has waited, once it passes ``DELAY_SECONDS``."""
    out = stream if stream is not None else sys.stderr
    if not out.isatty():
        yield
        return
    done = threading.Event()
    shown = threading.Event()
    began = time.monotonic()

    def show() -> None:
        if done.wait(DELAY_SECONDS):
            return
        while True:
            elapsed = time.monotonic() - began
            out.write(f"\r{what}: waiting for the collector... {elapsed:.0f} s ")
            out.flush()
            shown.set()
            if done.wait(TICK_SECONDS):
                return

    thread = threading.Thread(target=show, name="progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        if shown.is_set():
            out.write("\r\033[K")
            out.flush()
