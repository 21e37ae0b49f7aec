"""Loopback ports for tests that start real servers (or need an address nothing answers on)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (bound, then released): a server started on it
    right away gets it; left unused, nothing listens there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
