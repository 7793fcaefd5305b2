"""No route guard of the API runs in a thread: Litestar runs a synchronous guard through the thread pool
on every request (a hand-off per request, in the pool the uploads decode and write in), so guards are
coroutines. And no route runs two: Litestar copies the route handler for each guard on each request."""

from __future__ import annotations

import subprocess
import sys

# Builds the app as a process does and prints each route whose guards include one Litestar wraps to run
# in a thread (``AsyncCallable``), in a fresh interpreter: building the app configures logging.
THREADED_GUARDS = """
from litestar.utils.sync import AsyncCallable
from entrypoints.http.app import create_app
from entrypoints.settings import Settings

app = create_app(Settings.from_env())
checked = 0
for route in app.routes:
    handlers = getattr(route, "route_handlers", None) or [route.route_handler]
    for handler in handlers:
        for guard in handler.resolve_guards():
            checked += 1
            if isinstance(guard, AsyncCallable):
                print("threaded", sorted(route.methods), route.path, guard.func.__name__)
        if len(handler.resolve_guards()) > 1:
            print("several", sorted(handler.http_methods), route.path)
print("guards checked", checked)
"""


def test_no_route_guard_runs_in_a_thread() -> None:
    result = subprocess.run(
        [sys.executable, "-c", THREADED_GUARDS], capture_output=True, text=True, timeout=120, check=True
    )
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("threaded")] == []
    assert [line for line in lines if line.startswith("several")] == []
    # The uploads' and admin routes' guards were among those checked.
    checked = int(lines[-1].rsplit(" ", 1)[1])
    assert checked > 10
