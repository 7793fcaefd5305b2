"""A stub analysis server for tests: real HTTP on 127.0.0.1, scripted answers, signed webhooks back.

It speaks the analysis servers' protocol (docs/analysis-protocol.md): ``POST /v1/analyses`` answers 202
and, when asked to, reports started, progress and completed to the request's callback URL as Standard
Webhooks signed with the development secret. uvicorn serves it from a background thread; tests steer
it and read what it received through its methods, which share state under a lock.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import httpx
import uvicorn
from litestar import Litestar, Request, Response, post

from entrypoints.settings import DEV_WEBHOOK_SECRET
from shared_kernel.webhooks import WebhookSigner
from tests.support.threaded_server import listening_socket, serve_in_thread, stop_serving

ANALYSES_PATH = "/v1/analyses"
STUB_RESULT: dict[str, Any] = {
    "overall": 81.5,
    "scores": {
        "pronunciation": 80.0,
        "intonation": 78.0,
        "rhythm": 85.0,
        "energy": 83.0,
        "completeness": 90.0,
    },
    "words": [],
    "metrics": {"duration_seconds": 1.0},
    "contours": {},
}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int = 202
    retry_after: str | None = None


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    job_id: str
    headers: dict[str, str]
    body: dict[str, Any]
    client_port: int  # the connection it came on: the same port for requests on a reused connection


@dataclass(frozen=True, slots=True)
class WebhookSent:
    job_id: str
    type: str
    status: int | None  # None: the callback URL could not be reached


class StubAnalysisServer:
    def __init__(self, *, webhook_secret: str = DEV_WEBHOOK_SECRET, webhook_attempts: int = 40) -> None:
        self._signer = WebhookSigner(webhook_secret)
        self._webhook_attempts = webhook_attempts
        self._lock = threading.Lock()
        self._port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._reset_state()

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if not self._port:
            raise RuntimeError("the stub analysis server has not been started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self, timeout: float = 10.0) -> None:
        """Listen (again) on the same port, so clients configured with ``url`` reach it once more."""
        if self._server is not None:
            return
        listener = listening_socket(self._port)
        self._port = listener.getsockname()[1]
        self._server, self._thread = serve_in_thread(
            self._app(), listener, name="stub analysis server", timeout=timeout, timeout_graceful_shutdown=1
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop listening: clients now get connection refused, as from a server that is down."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None and thread is not None:
            stop_serving(server, thread, timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- steering ---------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget what was received and answer 202 at once, without webhooks; listen if stopped."""
        with self._lock:
            self._reset_state()
        self.start()

    def answer(self, status: int, *, retry_after: str | None = None, times: int | None = None) -> None:
        """Answer the next ``times`` requests (every request when None) with ``status``."""
        with self._lock:
            if times is None:
                self._default_answer = Answer(status, retry_after)
                self._scripted.clear()
            else:
                self._scripted.extend([Answer(status, retry_after)] * times)

    def respond_after(self, seconds: float) -> None:
        """Hold every request this long before answering (the request counts as received on arrival)."""
        with self._lock:
            self._delay = seconds

    def send_webhooks(self, enabled: bool = True) -> None:
        """After the first 202 for a job, report started, progress and completed to its callback URL."""
        with self._lock:
            self._webhooks_enabled = enabled

    # -- observing --------------------------------------------------------------------------------

    def deliveries(self, job_id: object) -> int:
        """How many analysis requests arrived for the job."""
        with self._lock:
            return self._deliveries[str(job_id)]

    def delivery_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._deliveries)

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def webhooks_sent(self) -> list[WebhookSent]:
        with self._lock:
            return list(self._webhooks)

    # -- the HTTP side ----------------------------------------------------------------------------

    def _reset_state(self) -> None:
        self._default_answer = Answer()
        self._scripted: deque[Answer] = deque()
        self._delay = 0.0
        self._webhooks_enabled = False
        self._deliveries: Counter[str] = Counter()
        self._requests: list[ReceivedRequest] = []
        self._accepted: set[str] = set()
        self._webhooks: list[WebhookSent] = []

    def _app(self) -> Litestar:
        background: set[asyncio.Task[None]] = set()

        @post(ANALYSES_PATH)
        async def analyses(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            body = json.loads(await request.body())
            job_id = str(body.get("job_id"))
            client_port = request.client.port if request.client else 0
            with self._lock:
                self._deliveries[job_id] += 1
                self._requests.append(ReceivedRequest(job_id, dict(request.headers), body, client_port))
                answer = self._scripted.popleft() if self._scripted else self._default_answer
                delay = self._delay
            if delay:
                await asyncio.sleep(delay)
            if answer.status != 202:
                headers = {"Retry-After": answer.retry_after} if answer.retry_after else {}
                return Response(
                    {"title": f"stub answer {answer.status}"}, status_code=answer.status, headers=headers
                )
            with self._lock:
                first = job_id not in self._accepted
                self._accepted.add(job_id)
                report = first and self._webhooks_enabled
            if report:
                task = asyncio.create_task(self._report(job_id, body["callback_url"]))
                background.add(task)
                task.add_done_callback(background.discard)
            return Response({"job_id": job_id, "status": "accepted"}, status_code=202)

        return Litestar([analyses], logging_config=None, openapi_config=None)

    async def _report(self, job_id: str, callback_url: str) -> None:
        events = [
            ("analysis.started", {"job_id": job_id}),
            ("analysis.progress", {"job_id": job_id, "percent": 50, "stage": "scoring"}),
            ("analysis.completed", {"job_id": job_id, "result": STUB_RESULT}),
        ]
        async with httpx.AsyncClient(timeout=5.0) as client:
            for event_type, data in events:
                await self._deliver(client, callback_url, job_id, event_type, data)

    async def _deliver(
        self, client: httpx.AsyncClient, url: str, job_id: str, event_type: str, data: dict[str, Any]
    ) -> None:
        """Retry like a real sender until the receiver answers 2xx (the webhook-id stays the same)."""
        body = json.dumps(
            {"type": event_type, "timestamp": datetime.now(UTC).isoformat(), "data": data}
        ).encode()
        webhook_id = f"msg_{uuid.uuid4().hex}"
        status: int | None = None
        for _ in range(self._webhook_attempts):
            headers = {"content-type": "application/json", **self._signer.headers(webhook_id, body)}
            try:
                status = (await client.post(url, content=body, headers=headers)).status_code
            except httpx.TransportError:
                status = None
            if status is not None and status < 500:
                break
            await asyncio.sleep(0.25)
        with self._lock:
            self._webhooks.append(WebhookSent(job_id, event_type, status))
