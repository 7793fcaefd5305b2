"""How `voicepractice serve` runs the API: the app is imported and built once, then served by N processes
forked from that one (pre-fork, as ``gunicorn --preload``), all accepting on one listening socket.

uvicorn's own ``--workers`` spawns fresh interpreters that each import the whole app again: two
processes importing side by side on a 2-core machine (with the worker importing too) took about twice
as long to answer as one. A forked process starts with everything imported and the app built, so N
processes are ready about as soon as one, and a dead one is replaced in the time its lifespan takes.

Fork happens before any event loop, thread pool or connection exists: the parent only imports, builds
the Litestar app and binds the socket; each child runs its own uvicorn server, whose lifespan builds
the container (pools, Redis, HTTP clients) inside the child. The parent forwards SIGTERM/SIGINT to the
children (each drains its connections, ``timeout_graceful_shutdown``), replaces a child that dies while
serving, and removes the metrics of a dead child's live gauges from the shared prometheus directory.

The socket listens from the moment it is bound, before the app is imported: a client that connects
while the process starts waits in the kernel's accept queue and is answered once the app is ready,
instead of being refused (after a restart, the requests sent meanwhile are served, not lost).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger(__name__)

# A child that dies this soon after its fork (its lifespan failed, say) is replaced only after a pause,
# so a persistent failure costs a fork per second, not a busy loop.
QUICK_DEATH_SECONDS = 5.0
RESPAWN_PAUSE_SECONDS = 1.0
POLL_SECONDS = 0.05
BACKLOG = 2048


def listening_socket(host: str, port: int, backlog: int = BACKLOG) -> socket.socket:
    """A TCP socket bound to ``host:port`` and already listening (inheritable, for the children)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


@dataclass
class Prefork:
    """Runs ``serve`` (returns the child's exit code) in ``processes`` forked children and supervises them.

    ``run`` returns once the parent was asked to stop (SIGTERM/SIGINT) and every child has exited, or was
    killed ``grace_seconds`` after being asked to stop. ``on_child_exit`` is told the id of each child
    that exited (the metrics clean-up).
    """

    serve: Callable[[], int]
    processes: int
    grace_seconds: float
    on_child_exit: Callable[[int], None] = lambda pid: None
    children: dict[int, float] = field(default_factory=dict)  # pid -> when forked
    stopping: bool = False
    _pending_respawns: list[float] = field(default_factory=list)  # when each may be forked
    _parent: int = 0

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._ask_to_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for _ in range(self.processes):
                if not self.stopping:
                    self._fork()
            while not self.stopping:
                self._reap(respawn=True)
                self._respawn_due()
                time.sleep(POLL_SECONDS)
            self._stop_children()
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _ask_to_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _fork(self) -> None:
        # Flush before forking, so buffered output is not written twice.
        sys.stdout.flush()
        sys.stderr.flush()
        self._parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the parent's code
            os._exit(self._child())
        self.children[pid] = time.monotonic()

    def _child(self) -> int:
        code = 1
        try:
            # The parent's handlers only set its flag; uvicorn installs the server's own.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            if not _stop_with_parent(self._parent):
                return 0
            code = self.serve()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:
            log.exception("API process failed")
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
        return code

    def _reap(self, respawn: bool) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            forked = self.children.pop(pid, None)
            if forked is None:
                continue
            self.on_child_exit(pid)
            if respawn and not self.stopping:
                code = os.waitstatus_to_exitcode(status)
                log.warning("API process %d exited with %d; starting another", pid, code)
                quick = time.monotonic() - forked < QUICK_DEATH_SECONDS
                self._pending_respawns.append(time.monotonic() + (RESPAWN_PAUSE_SECONDS if quick else 0.0))

    def _respawn_due(self) -> None:
        now = time.monotonic()
        due = [at for at in self._pending_respawns if at <= now]
        self._pending_respawns = [at for at in self._pending_respawns if at > now]
        for _ in due:
            if not self.stopping:
                self._fork()

    def _stop_children(self) -> None:
        for pid in list(self.children):
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        while self.children and time.monotonic() < deadline:
            self._reap(respawn=False)
            time.sleep(POLL_SECONDS)
        for pid in list(self.children):
            log.warning("API process %d still running after %.0f s; killing it", pid, self.grace_seconds)
            _signal(pid, signal.SIGKILL)
        while self.children:
            self._reap(respawn=False)
            time.sleep(POLL_SECONDS)


def _stop_with_parent(parent: int) -> bool:
    """Ask the kernel to send this process SIGTERM when its parent dies (Linux), so a parent killed alone
    leaves no process holding the port; False when the parent is gone already."""
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    return os.getppid() == parent


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
