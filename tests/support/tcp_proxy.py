"""A TCP forwarder on loopback that a test can cut and restore: the endpoint a client sees going down
(every connection reset, open ones too) and coming back on the same port. It can also go silent: the
connections stay open and what is sent is swallowed, as by a NAT that forgot them."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset instead of a goodbye


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target_port``. While cut, every connection is accepted
    and reset at once (counted in ``refused``), which a client sees as the endpoint failing."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.refused = 0
        self._cut = False
        self._silent = False
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._thread.start()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            for sock in self._open:
                _reset(sock)
            self._open.clear()

    def restore(self) -> None:
        with self._lock:
            self._cut = False
            self._silent = False

    def go_silent(self) -> None:
        """Keep every connection open but deliver nothing more, either way."""
        with self._lock:
            self._silent = True

    def wait_for_refusals(self, count: int, timeout: float) -> bool:
        """Whether ``count`` connections have been refused within ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self.refused >= count, timeout)

    def close(self) -> None:
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self._listener.close()
        self._thread.join(5.0)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._changed:
                if self._cut:
                    _reset(client)
                    self.refused += 1
                    self._changed.notify_all()
                    continue
            try:
                upstream = socket.create_connection(self._target, timeout=5.0)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            finished: list[int] = []
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink, finished), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, finished: list[int]) -> None:
        """One direction; the second direction to finish closes both sockets."""
        try:
            while chunk := source.recv(65536):
                if not self._silent:
                    sink.sendall(chunk)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            _reset(source)
            _reset(sink)
        with self._lock:
            finished.append(1)
            if len(finished) == 2:
                self._open.difference_update((source, sink))
                source.close()
                sink.close()


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextmanager
def tcp_proxy(target_port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy(target_port)
    try:
        yield proxy
    finally:
        proxy.close()
