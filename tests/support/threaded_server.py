"""ASGI test doubles served by uvicorn from a background thread, so tests reach them over real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


def listening_socket(port: int = 0) -> socket.socket:
    """A socket bound on 127.0.0.1 (``port`` 0: any free one); reusable, so a stopped double can come back
    on the same port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    return listener


def serve_in_thread(
    app: Any, listener: socket.socket, *, name: str, timeout: float = 10.0, **config: Any
) -> tuple[uvicorn.Server, threading.Thread]:
    """Serve ``app`` on ``listener`` until ``stop_serving``; returns once uvicorn is accepting."""
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="off", **config)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the {name} did not start")
        time.sleep(0.01)
    return server, thread


def stop_serving(server: uvicorn.Server, thread: threading.Thread, timeout: float = 10.0) -> None:
    server.should_exit = True
    thread.join(timeout)


async def read_body(receive: Any) -> bytes:
    """The whole body of an ASGI HTTP request."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body
