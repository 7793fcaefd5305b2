"""SAQ's monitoring UI at /admin/queue, for admins only: queues, workers, and jobs to retry or abort.

SAQ ships the UI as static files (``saq/web/static``) that call a small JSON API, wrapped either in a
Starlette app (Starlette is not a dependency here) or in an aiohttp app (not ASGI). This module serves
the same page, files and API as Litestar routes, so SAQ's own ``app.js`` runs unchanged while the
admin guard, problem details and metrics apply as on every other route. ``/admin/queue/api/pipeline``
adds the Postgres side: jobs by kind and status and the outbox backlog.

A browser cannot attach a bearer token to page loads, so ``POST /admin/queue/session`` (called with
an admin's bearer token, e.g. from the Swagger UI) sets a signed cookie that lives 15 minutes, is
scoped to /admin/queue, is HttpOnly and SameSite=Strict, and proves nothing anywhere else. Requests
that change something (retry, abort) on the strength of the cookie must be JSON, which a cross-site
form cannot send without a CORS preflight.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, Router, delete, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect
from saq import Queue
from saq.job import Job
from saq.web.common import STATIC_PATH, job_dict, render

from application.operations import PipelineStatistics
from domain.accounts import Principal, Role
from domain.errors import AuthenticationError
from entrypoints.http.dependencies import Injected
from entrypoints.http.problems import ProblemError
from entrypoints.http.routing import MountedOnce
from entrypoints.http.security import Caller, container_of, signed_in
from entrypoints.settings import Settings

ROOT = "/admin/queue"
SESSION_COOKIE = "admin_queue_session"
SESSION_TTL_SECONDS = 15 * 60
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css"}
Connection = ASGIConnection[Any, Any, Any, Any]
SaqQueue = Injected[Queue]


@dataclass(frozen=True, slots=True)
class QueueSessions:
    """Cookie values ``<user id>.<expiry>.<signature>``: HMAC-SHA256 under a key derived from SECRET_KEY
    for this purpose only, so the cookie is worthless as an API token and an API token is no cookie."""

    secret_key: str
    ttl_seconds: int = SESSION_TTL_SECONDS
    clock: Callable[[], float] = time.time

    def _sign(self, payload: str) -> str:
        key = hmac.new(self.secret_key.encode(), b"admin-queue-session", hashlib.sha256).digest()
        mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def issue(self, principal: Principal) -> str:
        payload = f"{principal.user_id}.{int(self.clock()) + self.ttl_seconds}"
        return f"{payload}.{self._sign(payload)}"

    def verify(self, value: str) -> Principal | None:
        """The admin the cookie was issued to, or None when it is forged, malformed or expired."""
        payload, _, signature = value.rpartition(".")
        user_id, _, expires = payload.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None
        if not expires.isdecimal() or int(expires) < self.clock():
            return None
        try:
            return Principal(UUID(user_id), Role.ADMIN)
        except ValueError:
            return None


def is_json_media_type(content_type: str) -> bool:
    """Whether a Content-Type's media type (before any parameters) is ``application/json``; a parameter
    or subtype merely mentioning it (``text/plain; x=application/json``) is a type a cross-site form may send."""
    media_type, _, _ = content_type.partition(";")
    return media_type.strip().lower() == "application/json"


async def admin_only(connection: Connection, _: BaseRouteHandler) -> None:
    """Guard: a bearer token or the session cookie of an admin; 401 without either, 403 for a user or an
    admin demoted since the cookie was issued (the cookie's account is read on every request)."""
    principal = signed_in(connection)
    if principal is not None:
        principal.require_admin()
        return
    cookie = connection.cookies.get(SESSION_COOKIE)
    if cookie is None:
        raise AuthenticationError(
            "sign in as an admin: send a bearer token, or POST /admin/queue/session with one for a cookie"
        )
    container = container_of(connection)
    session = QueueSessions(container.settings.secret_key).verify(cookie)
    if session is None:
        raise AuthenticationError("the admin queue session expired or is invalid; start a new one")
    (await container.profiles.confirm(session)).require_admin()
    method = connection.scope.get("method", "GET")
    if method not in _SAFE_METHODS and not is_json_media_type(connection.headers.get("content-type", "")):
        raise ProblemError(403, "forbidden", "changes made with the session cookie must be JSON requests")


class QueueSessionController(Controller):
    path = "/session"
    tags = ["admin"]

    @post("/", status_code=204)
    async def start(self, settings: Injected[Settings], principal: Caller) -> Response[None]:
        """Exchange an admin's bearer token for the queue UI's cookie (15 minutes, this path only)."""
        principal.require_admin()
        secure = settings.public_base_url.startswith("https://")
        cookie = Cookie(
            key=SESSION_COOKIE,
            value=QueueSessions(settings.secret_key).issue(principal),
            max_age=SESSION_TTL_SECONDS,
            path=ROOT,
            secure=secure,
            httponly=True,
            samesite="strict",
        )
        return Response(None, status_code=204, cookies=[cookie])

    @delete("/", status_code=204)
    async def end(self) -> Response[None]:
        """Forget the queue UI's cookie."""
        return Response(None, status_code=204, cookies=[Cookie(key=SESSION_COOKIE, path=ROOT, max_age=0)])


def _queue(saq_queue: Queue, name: str) -> Queue:
    if name != saq_queue.name:
        raise ProblemError(404, "not-found", f"no queue named {name!r}")
    return saq_queue


async def _job(saq_queue: Queue, queue_name: str, key: str) -> Job:
    job = await _queue(saq_queue, queue_name).job(key)
    if job is None:
        raise ProblemError(404, "not-found", f"no job {key!r} in queue {queue_name!r}")
    return job


def _page() -> Response[str]:
    return Response(render(root_path=ROOT), media_type="text/html")


class QueueUiController(Controller):
    """SAQ's page and files; the page's script routes by URL, so every view serves the same page."""

    guards = [admin_only]
    include_in_schema = False

    @get("/")
    async def home(self, request: Request[Any, Any, Any]) -> Response[Any]:
        # SAQ's script matches the location against "<root>/", and Litestar routes both spellings here.
        if not request.scope.get("raw_path", b"/").endswith(b"/"):
            return Redirect(f"{ROOT}/")
        return _page()

    @get("/queues/{queue:str}")
    async def queue_page(self, queue: FromPath[str]) -> Response[str]:
        return _page()

    @get("/queues/{queue:str}/jobs/{job:str}")
    async def job_page(self, queue: FromPath[str], job: FromPath[str]) -> Response[str]:
        return _page()

    @get("/static/{name:str}")
    async def static(self, request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
        files = {path.name: path for path in STATIC_PATH.iterdir()}
        headers = {"Cache-Control": "private, max-age=3600", "Vary": "Accept-Encoding"}
        media_type = next((t for suffix, t in _STATIC_TYPES.items() if name.endswith(suffix)), "text/plain")
        if name in files:
            return Response(files[name].read_bytes(), media_type=media_type, headers=headers)
        compressed = files.get(f"{name}.gz")
        if compressed is None:
            raise ProblemError(404, "not-found", f"no static file {name!r}")
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(compressed.read_bytes(), media_type=media_type, headers=headers)
        return Response(gzip.decompress(compressed.read_bytes()), media_type=media_type, headers=headers)


class QueueApiController(Controller):
    """The JSON API SAQ's script calls, plus the pipeline's figures from Postgres."""

    path = "/api"
    guards = [admin_only]
    tags = ["admin"]

    @get("/queues")
    async def queues(self, saq_queue: SaqQueue) -> dict[str, Any]:
        """The queues with their workers and counts of queued, active and scheduled jobs."""
        return {"queues": [await saq_queue.info()]}

    @get("/queues/{queue:str}")
    async def queue(self, saq_queue: SaqQueue, queue: FromPath[str]) -> dict[str, Any]:
        """One queue with the jobs due soonest."""
        return {"queue": await _queue(saq_queue, queue).info(jobs=True)}

    @get("/queues/{queue:str}/jobs/{job:str}")
    async def job(self, saq_queue: SaqQueue, queue: FromPath[str], job: FromPath[str]) -> dict[str, Any]:
        """One SAQ job: its function, arguments, attempts, result or error."""
        return {"job": job_dict(await _job(saq_queue, queue, job))}

    @post("/queues/{queue:str}/jobs/{job:str}/retry", status_code=200)
    async def retry(self, saq_queue: SaqQueue, queue: FromPath[str], job: FromPath[str]) -> dict[str, Any]:
        """Run the job again."""
        await (await _job(saq_queue, queue, job)).retry("retried from ui")
        return {}

    @post("/queues/{queue:str}/jobs/{job:str}/abort", status_code=200)
    async def abort(self, saq_queue: SaqQueue, queue: FromPath[str], job: FromPath[str]) -> dict[str, Any]:
        """Abort the job (an outbox row it was relaying is leased and relayed again by the sweep)."""
        await (await _job(saq_queue, queue, job)).abort("aborted from ui")
        return {}

    @get("/pipeline")
    async def pipeline(self, pipeline_statistics: Injected[PipelineStatistics]) -> dict[str, Any]:
        """Jobs by kind and status and the outbox backlog, read from Postgres now."""
        snapshot = await pipeline_statistics.snapshot()
        jobs: dict[str, dict[str, int]] = {}
        for (kind, status), count in sorted(snapshot.jobs.items()):
            jobs.setdefault(kind.value, {})[status.value] = count
        return {
            "taken_at": snapshot.taken_at.isoformat(),
            "jobs": jobs,
            "outbox": {
                "unsent": snapshot.outbox_unsent,
                "oldest_unsent_age_seconds": snapshot.oldest_unsent_age_seconds,
            },
        }


def build_admin_queue_router() -> Router:
    return MountedOnce(
        path=ROOT, route_handlers=[QueueSessionController, QueueUiController, QueueApiController]
    )
