"""This machine's addresses as another machine would reach them, for tests of what listens on loopback only."""

from __future__ import annotations

import socket


def outward_address() -> str | None:
    """The IPv4 address the machine's default route leaves from, or None on a machine with loopback alone."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("203.0.113.1", 9))  # UDP: nothing is sent, the kernel only picks a route
        except OSError:
            return None
        address: str = sock.getsockname()[0]
    return None if address.startswith("127.") else address


def accepts_connections(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        return sock.connect_ex((host, port)) == 0
