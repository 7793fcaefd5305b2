"""The upload routes resolve their dependencies one at a time: Litestar resolves two or more dependencies
that need nothing of each other in an anyio task group on every request (0.1-0.2 ms of CPU more than
one, on a bare app), which the busiest route of the API should not pay."""

from __future__ import annotations

import subprocess
import sys

# Builds the app as a process does and prints each upload route's dependency batches (the sets Litestar
# resolves together), in a fresh interpreter: building the app configures logging.
UPLOAD_ROUTE_BATCHES = """
from entrypoints.http.app import create_app
from entrypoints.settings import Settings

app = create_app(Settings.from_env())
for route in app.routes:
    for method, (handler, kwargs_model) in getattr(route, "route_handler_map", {}).items():
        if route.path.endswith("/upload-audio") and method == "POST":
            print(route.path, [sorted(d.key for d in batch) for batch in kwargs_model.dependency_batches])
"""


def test_upload_routes_resolve_one_dependency_at_a_time() -> None:
    result = subprocess.run(
        [sys.executable, "-c", UPLOAD_ROUTE_BATCHES], capture_output=True, text=True, timeout=120, check=True
    )
    routes = dict(line.split(" ", 1) for line in result.stdout.splitlines() if line.startswith("/"))

    assert set(routes) == {
        "/v1/tokens/{token_id:uuid}/upload-audio",
        "/v1/scripts/{script_id:uuid}/upload-audio",
        "/tokens/{token_id:uuid}/upload-audio",
        "/scripts/{script_id:uuid}/upload-audio",
    }
    assert set(routes.values()) == {"[['item_id'], ['intake']]"}
