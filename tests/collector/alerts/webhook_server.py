"""A webhook receiver on loopback that records each POST and answers a scripted status."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """What the receiver saw: every request body with its arrival time and the answer."""

    statuses: list[int] = field(default_factory=list)
    """Statuses to answer, in order; once used up, ``default_status``."""
    default_status: int = 200
    retry_after: str = ""
    """``Retry-After`` header sent with every error answer, when set."""
    requests: list[tuple[float, int, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    def answer(self, body: Any) -> int:
        with self.lock:
            status = self.statuses.pop(0) if self.statuses else self.default_status
            self.requests.append((time.monotonic(), status, body))
            self.arrived.notify_all()
            return status

    def wait_for(self, count: int, timeout: float) -> list[tuple[float, int, Any]]:
        """Block until ``count`` requests arrived (or ``timeout``); return them all."""
        with self.lock:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)

    def successful_bodies(self) -> list[Any]:
        with self.lock:
            return [body for _, status, body in self.requests if status < 300]


@contextmanager
def webhook_receiver(
    statuses: list[int] | None = None, default_status: int = 200, retry_after: str = ""
) -> Iterator[tuple[str, Received]]:
    """Serve on 127.0.0.1 (free port); yield the URL and the record; stop on exit."""
    received = Received(list(statuses or []), default_status, retry_after)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            status = received.answer(json.loads(raw) if raw else None)
            self.send_response(status)
            if status >= 400 and received.retry_after:
                self.send_header("Retry-After", received.retry_after)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
