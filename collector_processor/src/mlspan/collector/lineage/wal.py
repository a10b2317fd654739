"""The lineage write-ahead log: accepted requests on disk until their lineage commits.

The lineage processor appends each request's OTLP bytes here before ``consume`` returns,
so before the receiver acknowledges it, and marks the entry done once the store write
that holds it committed (or gave it up as poisoned). At start-up, entries a killed
process left behind are read back and written again; store writes are idempotent, so an
entry that had committed just before the kill costs a rewrite, never a duplicate.

Layout: numbered segment files ``<20 digits>.wal`` in one folder; each entry is a
12-byte header (magic, payload length, checksum) and the payload, appended with one
``writev`` call. A write that returned lives in the OS page cache, which survives the
process being killed (``kill -9``, OOM killer); only a power loss or kernel crash can
take it, and ``fsync=True`` covers that too (one ``fsync`` per request, and a CRC-32 per
entry so a torn write after power loss is recognised). A process killed inside
``writev`` can leave a short last entry: its request was never acknowledged, and reading
stops there. When every entry is done the active segment is truncated; a segment that
grew past ``segment_bytes`` is closed and deleted once all its entries are done, so the
folder holds the undone entries plus at most one segment's worth of done ones.
``max_bytes`` bounds the undone entries: beyond it ``append`` raises ``QueueFullError``
and the receiver answers with OTLP's retryable status.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from mlspan.collector.pdata import QueueFullError

logger = logging.getLogger(__name__)

MAGIC: Final = b"MLW1"
_HEADER: Final = struct.Struct("<4sII")
"""Magic, payload length, CRC-32 of the payload (0 when written without ``fsync``)."""
SUFFIX: Final = ".wal"
_SEGMENT: Final = re.compile(r"^(\d{20})\.wal$")
LOCK_FILE: Final = "lock"


class WalLockedError(RuntimeError):
    """Another process holds this write-ahead log."""


class Ticket:
    """An appended entry: the segment holding it and its size on disk."""

    __slots__ = ("segment", "size")

    def __init__(self, segment: int, size: int) -> None:
        self.segment = segment
        self.size = size


class WriteAheadLog:
    """Append-then-acknowledge log of request payloads in ``directory``; thread-safe."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        segment_bytes: int,
        fsync: bool = False,
    ) -> None:
        self._dir = directory
        self._max_bytes = max_bytes
        self._segment_bytes = segment_bytes
        self._fsync = fsync
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise WalLockedError(f"{directory} is in use by another collector") from None
        found = sorted(
            int(match.group(1))
            for match in (_SEGMENT.match(path.name) for path in directory.iterdir())
            if match
        )
        self._recovered = found
        """Segments a previous process left; replayed by ``recovered`` then deleted."""
        self._lock = threading.Lock()
        self._active = (found[-1] + 1) if found else 1
        self._fd = self._open(self._active)
        self._offset = 0
        self._outstanding: dict[int, int] = {self._active: 0}
        """Undone entries per live segment (the active one and closed ones not yet
        deleted)."""
        self._pending_bytes = 0
        self._closed = False

    # -- recovery ------------------------------------------------------------------------
    @property
    def recovered_segments(self) -> int:
        """Segments left by a previous process and not yet discarded."""
        return len(self._recovered)

    def recovered(self) -> Iterator[bytes]:
        """Every complete entry of the segments a previous process left, oldest first.

        Reading a segment stops at the first incomplete or damaged entry (a write the
        process was killed in, never acknowledged); that is logged.
        """
        for segment in self._recovered:
            yield from self._read_segment(self._path(segment))

    def discard_recovered(self) -> None:
        """Delete the recovered segments once their entries are written to the store."""
        for segment in self._recovered:
            self._path(segment).unlink(missing_ok=True)
        self._recovered = []
        self._sync_directory()

    def _read_segment(self, path: Path) -> Iterator[bytes]:
        data = path.read_bytes()
        position = 0
        while position < len(data):
            header = data[position : position + _HEADER.size]
            if len(header) < _HEADER.size:
                break
            magic, length, checksum = _HEADER.unpack(header)
            start = position + _HEADER.size
            payload = data[start : start + length]
            if magic != MAGIC or len(payload) < length:
                break
            if checksum and zlib.crc32(payload) != checksum:
                break
            yield payload
            position = start + length
        if position < len(data):
            logger.warning(
                "lineage write-ahead log %s: %d trailing bytes of an incomplete entry "
                "(a request that was never acknowledged) ignored",
                path.name,
                len(data) - position,
            )

    # -- appending -----------------------------------------------------------------------
    def pending_bytes(self) -> int:
        """Bytes of entries appended and not yet done."""
        with self._lock:
            return self._pending_bytes

    def disk_bytes(self) -> int:
        """Bytes the log's segment files hold now (undone entries plus done ones not yet
        truncated or deleted)."""
        total = 0
        for path in self._dir.glob(f"*{SUFFIX}"):
            try:
                total += path.stat().st_size
            except OSError:
                continue
        return total

    def append(self, payload: bytes) -> Ticket:
        """Write ``payload`` (to the OS, and to the disk with ``fsync``) and return its
        ticket; ``QueueFullError`` when the undone entries would pass ``max_bytes``."""
        size = _HEADER.size + len(payload)
        checksum = zlib.crc32(payload) if self._fsync else 0
        header = _HEADER.pack(MAGIC, len(payload), checksum)
        with self._lock:
            if self._closed:
                raise QueueFullError("lineage write-ahead log is closed")
            if self._pending_bytes and self._pending_bytes + size > self._max_bytes:
                raise QueueFullError(
                    f"lineage write-ahead log full ({self._pending_bytes} bytes pending)"
                )
            if self._offset and self._offset + size > self._segment_bytes:
                self._rotate()
            try:
                written = os.writev(self._fd, (header, payload))
                if written != size:
                    raise OSError(f"short write ({written} of {size} bytes)")
                if self._fsync:
                    os.fsync(self._fd)
            except OSError as exc:
                # Leave no partial entry behind: later entries must stay readable.
                os.ftruncate(self._fd, self._offset)
                logger.error("lineage write-ahead log: append failed: %s", exc)
                raise QueueFullError(f"lineage write-ahead log: {exc}") from exc
            self._offset += size
            self._pending_bytes += size
            self._outstanding[self._active] += 1
            return Ticket(self._active, size)

    def done(self, ticket: Ticket) -> None:
        """Mark an entry written (or given up on); reclaims space that holds no undone
        entry."""
        with self._lock:
            self._pending_bytes -= ticket.size
            left = self._outstanding[ticket.segment] - 1
            self._outstanding[ticket.segment] = left
            if left:
                return
            if ticket.segment != self._active:
                del self._outstanding[ticket.segment]
                self._path(ticket.segment).unlink(missing_ok=True)
            elif self._offset and not self._closed:
                os.ftruncate(self._fd, 0)
                self._offset = 0

    def _rotate(self) -> None:
        """Close the active segment and start the next (caller holds the lock)."""
        old = self._active
        os.close(self._fd)
        self._active = old + 1
        self._fd = self._open(self._active)
        self._offset = 0
        self._outstanding[self._active] = 0
        if not self._outstanding[old]:
            del self._outstanding[old]
            self._path(old).unlink(missing_ok=True)

    def close(self) -> None:
        """Stop appending and release the folder; undone entries stay for the next
        start. Safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self._fd)
            if not self._outstanding.get(self._active):
                self._path(self._active).unlink(missing_ok=True)
            os.close(self._lock_fd)

    def _path(self, segment: int) -> Path:
        return self._dir / f"{segment:020d}{SUFFIX}"

    def _open(self, segment: int) -> int:
        fd = os.open(self._path(segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if self._fsync:
            self._sync_directory()
        return fd

    def _sync_directory(self) -> None:
        if not self._fsync:
            return
        fd = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
