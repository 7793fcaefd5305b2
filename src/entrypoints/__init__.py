"""The programs: the HTTP API, the worker, the reference analysis server and the CLI that starts them."""

import sys

# redis-py imports OpenTelemetry's metrics SDK as it loads whenever the SDK is installed (it is, for
# tracing), to offer client metrics this service never turns on; that import alone cost every program
# 0.1-0.5 s of its start. Marked absent, redis goes without. Tracing needs only the tracing SDK.
sys.modules.setdefault("opentelemetry.sdk.metrics", None)  # type: ignore[arg-type]  # None: "not importable"
