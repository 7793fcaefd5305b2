"""The API as an analysis server sees it, for tests: audio at URLs and a webhook endpoint, over real HTTP.

Audio put with ``serve`` is answered at ``GET /audio/<name>``. ``POST /webhooks/analysis`` verifies the
Standard Webhooks signature as the API does (401 when it does not match), records every delivery and
answers 200, or a status scripted with ``fail_webhooks``. uvicorn serves it from a background thread;
the test reads what arrived through methods that share state under a lock.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import uvicorn

from entrypoints.settings import DEV_WEBHOOK_SECRET
from shared_kernel.webhooks import WebhookRejected, WebhookVerifier
from tests.support.threaded_server import listening_socket, read_body, serve_in_thread, stop_serving

WEBHOOK_PATH = "/webhooks/analysis"
TERMINAL_TYPES = ("analysis.completed", "analysis.failed")


@dataclass(frozen=True, slots=True)
class ReceivedWebhook:
    webhook_id: str
    type: str
    data: dict[str, Any]
    signature_valid: bool
    answered: int
    received_at: float

    @property
    def job_id(self) -> str:
        return str(self.data.get("job_id"))


class ApiDouble:
    def __init__(self, *, webhook_secret: str = DEV_WEBHOOK_SECRET) -> None:
        self._verifier = WebhookVerifier([webhook_secret])
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._audio: dict[str, bytes] = {}
        self._redirects: dict[str, str] = {}
        self._downloads: list[str] = []
        self._webhooks: list[ReceivedWebhook] = []
        self._scripted: dict[str, deque[int]] = {}
        self._port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def callback_url(self) -> str:
        return self.url + WEBHOOK_PATH

    def start(self, timeout: float = 10.0) -> None:
        listener = listening_socket()
        self._port = listener.getsockname()[1]
        self._server, self._thread = serve_in_thread(
            self._asgi, listener, name="API double", timeout=timeout, interface="asgi3"
        )

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            stop_serving(self._server, self._thread)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- steering ---------------------------------------------------------------------------------

    def serve(self, name: str, data: bytes) -> str:
        """Answer ``GET /audio/<name>`` with ``data``; returns the URL."""
        with self._lock:
            self._audio[name] = data
        return f"{self.url}/audio/{name}"

    def redirect(self, name: str, location: str) -> str:
        """Answer ``GET /audio/<name>`` with a 302 to ``location``; returns the URL."""
        with self._lock:
            self._redirects[name] = location
        return f"{self.url}/audio/{name}"

    def fail_webhooks(self, job_id: object, status: int, times: int) -> None:
        """Answer the next ``times`` webhook deliveries for the job with ``status`` (and record them)."""
        with self._lock:
            self._scripted.setdefault(str(job_id), deque()).extend([status] * times)

    # -- observing --------------------------------------------------------------------------------

    def webhooks(self, job_id: object | None = None) -> list[ReceivedWebhook]:
        with self._lock:
            return [hook for hook in self._webhooks if job_id is None or hook.job_id == str(job_id)]

    def downloads(self) -> list[str]:
        with self._lock:
            return list(self._downloads)

    def wait_until_finished(self, job_id: object, timeout: float = 30.0) -> list[ReceivedWebhook]:
        """Every delivery of the job's webhooks, once its completed or failed event was answered 200."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not any(
                hook.job_id == str(job_id) and hook.type in TERMINAL_TYPES and hook.answered == 200
                for hook in self._webhooks
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"job {job_id} did not finish; webhooks: {self._webhooks}")
                self._arrived.wait(remaining)
            return [hook for hook in self._webhooks if hook.job_id == str(job_id)]

    # -- the HTTP side ----------------------------------------------------------------------------

    async def _asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        path, method = scope["path"], scope["method"]
        if method == "GET" and path.startswith("/audio/"):
            status, payload, headers = self._audio_answer(path.removeprefix("/audio/"))
        elif method == "POST" and path == WEBHOOK_PATH:
            headers = {name.decode(): value.decode() for name, value in scope["headers"]}
            status, payload = self._webhook_answer(body, headers)
            headers = {}
        else:
            status, payload, headers = 404, b"not found", {}
        listed = [(name.encode(), value.encode()) for name, value in headers.items()]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-length", str(len(payload)).encode()), *listed],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _audio_answer(self, name: str) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            self._downloads.append(name)
            data = self._audio.get(name)
            location = self._redirects.get(name)
        if location is not None:
            return 302, b"", {"location": location}
        return (200, data, {}) if data is not None else (404, b"no such audio", {})

    def _webhook_answer(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            self._verifier.verify(body, headers)
            valid = True
        except WebhookRejected:
            valid = False
        envelope = json.loads(body)
        job_id = str(envelope["data"].get("job_id"))
        with self._arrived:
            scripted = self._scripted.get(job_id)
            status = scripted.popleft() if scripted else (200 if valid else 401)
            self._webhooks.append(
                ReceivedWebhook(
                    webhook_id=headers.get("webhook-id", ""),
                    type=envelope["type"],
                    data=envelope["data"],
                    signature_valid=valid,
                    answered=status,
                    received_at=time.monotonic(),
                )
            )
            self._arrived.notify_all()
        return status, json.dumps({"status": "applied"}).encode()
