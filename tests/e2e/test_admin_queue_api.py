"""SAQ's UI at /admin/queue: admins only, by bearer token or by the short-lived session cookie."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from adapters.queue.saq_relay import RELAY_FUNCTION
from domain.accounts import Principal, Role
from entrypoints.bootstrap import Container
from entrypoints.http.admin_queue import SESSION_COOKIE, QueueSessions
from tests.support.api_client import SignUp
from tests.support.recordings import tone

PAGE = "/admin/queue/"


async def start_session(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await client.post("/admin/queue/session", headers=admin_headers)
    assert response.status_code == 204, response.text


async def test_the_ui_is_401_without_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get(PAGE)
    assert (response.status_code, response.json()["type"]) == (401, "/problems/unauthenticated")


async def test_the_ui_is_403_for_a_user(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    response = await client.get(PAGE, headers=await sign_up())
    assert (response.status_code, response.json()["type"]) == (403, "/problems/forbidden")


async def test_the_ui_is_saqs_page_for_an_admin(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(PAGE, headers=admin_headers)
    assert response.status_code == 200
    assert '<script src="/admin/queue/static/app.js">' in response.text


async def test_the_ui_root_without_a_slash_redirects_to_the_page_saq_routes(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/admin/queue", headers=admin_headers)
    assert (response.status_code, response.headers["location"]) == (302, PAGE)


async def test_the_queue_api_is_401_without_credentials(client: httpx.AsyncClient) -> None:
    assert (await client.get("/admin/queue/api/queues")).status_code == 401


async def test_the_queue_api_is_403_for_a_user(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    assert (await client.get("/admin/queue/api/queues", headers=await sign_up())).status_code == 403


async def test_the_queue_api_lists_the_relay_queue_for_an_admin(
    client: httpx.AsyncClient, admin_headers: dict[str, str], container: Container
) -> None:
    response = await client.get("/admin/queue/api/queues", headers=admin_headers)
    assert [queue["name"] for queue in response.json()["queues"]] == [container.queue.name]


async def test_an_unknown_queue_is_404(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    assert (await client.get("/admin/queue/api/queues/nope", headers=admin_headers)).status_code == 404


async def test_a_queued_job_can_be_inspected(
    client: httpx.AsyncClient, admin_headers: dict[str, str], container: Container
) -> None:
    # Uploads wake the workers over pub/sub now; the queue holds the cron jobs and any relay job an
    # older API enqueued, which is what this one is.
    key = f"relay:{uuid.uuid4()}"
    await container.queue.enqueue(RELAY_FUNCTION, key=key, outbox_id=key.removeprefix("relay:"))
    response = await client.get(
        f"/admin/queue/api/queues/{container.queue.name}/jobs/{key}", headers=admin_headers
    )
    assert response.json()["job"]["function"] == "relay_outbox_message"


async def test_the_pipeline_figures_count_jobs_by_kind_and_status(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sign_up: SignUp, reference_token: dict[str, Any]
) -> None:
    await client.post(
        f"/v1/tokens/{reference_token['id']}/upload-audio",
        files={"file": ("take.wav", tone(1.0))},
        headers=await sign_up(),
    )
    response = await client.get("/admin/queue/api/pipeline", headers=admin_headers)
    assert response.json()["jobs"] == {"token": {"queued": 1}}


async def test_a_session_needs_an_admin(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    assert (await client.post("/admin/queue/session", headers=await sign_up())).status_code == 403


async def test_a_session_cannot_be_started_with_the_cookie_alone(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await start_session(client, admin_headers)
    assert (await client.post("/admin/queue/session")).status_code == 401


async def test_the_session_cookie_is_http_only_strict_and_scoped_to_the_ui(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post("/admin/queue/session", headers=admin_headers)
    cookie = response.headers["set-cookie"].lower()
    assert {"httponly", "samesite=strict", "path=/admin/queue", "max-age=900"} <= {
        part.strip() for part in cookie.split(";")
    }


async def test_the_session_cookie_opens_the_ui_without_a_bearer_token(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await start_session(client, admin_headers)
    assert (await client.get(PAGE)).status_code == 200


async def test_the_session_cookie_serves_saqs_static_files(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await start_session(client, admin_headers)
    response = await client.get("/admin/queue/static/app.js")
    assert (response.status_code, response.headers["content-type"]) == (200, "text/javascript; charset=utf-8")


async def test_a_gzipped_static_file_is_served_to_a_browser_that_takes_gzip(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/admin/queue/static/pico.min.css", headers=admin_headers)
    assert response.text.startswith(("@charset", "/*", ":root"))


async def test_an_unknown_static_file_is_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    assert (await client.get("/admin/queue/static/../../etc", headers=admin_headers)).status_code == 404


async def test_a_forged_session_cookie_is_401(client: httpx.AsyncClient) -> None:
    client.cookies.set(
        SESSION_COOKIE, "01936f43-2d2a-7c1e-8f00-000000000000.9999999999.forged", path="/admin/queue"
    )
    assert (await client.get(PAGE)).status_code == 401


async def test_an_expired_session_cookie_is_401(client: httpx.AsyncClient, container: Container) -> None:
    past = QueueSessions(container.settings.secret_key, clock=lambda: time.time() - 3600)
    admin = Principal(user_id=uuid.uuid4(), role=Role.ADMIN)
    client.cookies.set(SESSION_COOKIE, past.issue(admin), path="/admin/queue")
    assert (await client.get(PAGE)).status_code == 401


RETRY_NOTHING = "/admin/queue/api/queues/voice-practice/jobs/relay:none/retry"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "text/plain; x=application/json",
        "text/plain;application/json",
        "multipart/form-data; boundary=application/json",
        "application/jsonp",
        "text/application/json",
        "",
    ],
)
async def test_a_change_made_with_the_cookie_must_be_json(
    client: httpx.AsyncClient, admin_headers: dict[str, str], content_type: str
) -> None:
    await start_session(client, admin_headers)
    response = await client.post(RETRY_NOTHING, content=b"{}", headers={"Content-Type": content_type})
    assert response.status_code == 403


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON ; charset=utf-8"])
async def test_a_json_change_made_with_the_cookie_passes_the_guard(
    client: httpx.AsyncClient, admin_headers: dict[str, str], content_type: str
) -> None:
    await start_session(client, admin_headers)
    response = await client.post(RETRY_NOTHING, content=b"{}", headers={"Content-Type": content_type})
    assert response.status_code == 404, response.text


async def test_ending_the_session_clears_the_cookie(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await start_session(client, admin_headers)
    await client.delete("/admin/queue/session")
    assert (await client.get(PAGE)).status_code == 401


@pytest.mark.parametrize("path", ["/admin/queue/api/pipeline", "/admin/queue/queues/voice-practice"])
async def test_every_ui_route_is_guarded(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 401
