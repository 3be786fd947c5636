"""Loopback ports for the services tests start (Azurite, PostgreSQL, closed endpoints)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port the OS has just handed out: never a fixed one, so that test processes
    running side by side (pytest-xdist workers, other checkouts) do not collide."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
