"""Periodic return of free heap memory to the kernel (``malloc_trim_interval_seconds``).

The collector keeps glibc's trim threshold high (``runtime.tune_allocator``) so that the
memory of one request is reused by the next instead of being unmapped and faulted in
again. The price is that each heap and arena keeps free memory up to that threshold, and
after bursts of large or odd-sized requests that free memory is fragmented across the
heaps: RSS creeps up while the live Python objects stay flat (``bench/fuzz.py``). A
``malloc_trim(0)`` now and then hands the free pages of every arena back (glibc releases
whole free pages inside the heaps too, not only the top), at the cost of refaulting the
pages the next requests use: a few hundred microseconds every few seconds instead of on
every request. Only on glibc; elsewhere the trimmer does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


def _glibc_malloc_trim() -> Callable[[int], int] | None:
    """``malloc_trim`` from the running glibc, or None (other platforms and libcs)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018  # glibc only
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = (ctypes.c_size_t,)
    trim.restype = ctypes.c_int
    return trim


class MemoryTrimmer:
    """A daemon thread calling ``malloc_trim(0)`` every ``interval`` seconds until
    ``stop()``; does nothing when ``interval`` is 0 or the C library is not glibc."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.trims = 0
        """Calls made so far (for tests and the debug log)."""
        self._trim = _glibc_malloc_trim() if interval > 0 else None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        """Whether ``start()`` runs a trimming thread here."""
        return self._trim is not None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._trim is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="malloc-trim", daemon=True)
        self._thread.start()

    def trim_now(self) -> None:
        """One ``malloc_trim(0)``; errors are logged, never raised."""
        if self._trim is None:
            return
        try:
            self._trim(0)
            self.trims += 1
        except Exception:
            logger.exception("malloc_trim failed")

    def stop(self) -> None:
        """Stop the thread and wait for it (briefly); safe to call more than once."""
        self._stopped.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.trim_now()
