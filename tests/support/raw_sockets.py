"""Raw-socket reads for tests that speak HTTP byte by byte (slow clients, refusals)."""

from __future__ import annotations

import socket


def readable(sock: socket.socket) -> bool:
    """Whether the server has answered or hung up (a read would not block)."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(30)
    return True


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (or the connection fails)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except OSError:
        pass
    return received
