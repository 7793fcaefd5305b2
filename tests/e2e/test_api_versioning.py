"""API versions (docs/api-versioning.md): the public API under /v1; its unversioned paths still answer,
the same way, with Deprecation, Sunset and a successor Link naming the v1 path of the very request.

The route tests enumerate the app's own routes, so a route added later cannot escape the policy: it is
under /v1, or a deprecated twin of a v1 route, or unversioned by name in `UNVERSIONED_PATHS`.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
from litestar import Litestar
from litestar.routes import HTTPRoute

from entrypoints.bootstrap import Container
from entrypoints.http.app import create_app
from entrypoints.http.versioning import API_V1, DEPRECATED_SINCE, SUNSET, is_unversioned, successor_path
from tests.support.api_client import SignUp
from tests.support.recordings import tone

_PARAMETER = re.compile(r"\{(?P<name>[^}:]+)(?::(?P<type>[^}]+))?\}")
_TESTED_METHODS = {"GET", "POST", "PUT", "DELETE"}


def _http_routes(app: Litestar) -> list[HTTPRoute]:
    return [route for route in app.routes if isinstance(route, HTTPRoute)]


def _deprecated_routes(app: Litestar) -> list[HTTPRoute]:
    return [
        route
        for route in _http_routes(app)
        if not route.path.startswith(API_V1 + "/") and not is_unversioned(route.path)
    ]


def _concrete(template: str) -> str:
    """A path of the route template with a fresh value for each parameter (a UUID for ``:uuid``, 1 for
    ``:int``)."""
    values = {"uuid": lambda: str(uuid4()), "int": lambda: "1"}
    return _PARAMETER.sub(lambda m: values.get(m["type"] or "", lambda: "x")(), template)


def _assert_deprecated(response: httpx.Response, successor: str) -> None:
    assert response.headers["deprecation"] == f"@{int(DEPRECATED_SINCE.timestamp())}"
    assert parsedate_to_datetime(response.headers["sunset"]) == SUNSET
    assert response.headers["sunset"].endswith(" GMT")
    assert response.headers["link"] == f'<{successor}>; rel="successor-version"'


def test_every_route_is_v1_a_deprecated_twin_of_one_or_unversioned_by_policy(container: Container) -> None:
    app = create_app(container=container)
    templates = {route.path for route in _http_routes(app)}
    deprecated = _deprecated_routes(app)

    orphans = [route.path for route in deprecated if successor_path(route.path) not in templates]
    assert orphans == []
    # The deprecated mount is the v1 one, route for route and method for method.
    for route in deprecated:
        twin = next(r for r in _http_routes(app) if r.path == successor_path(route.path))
        assert route.methods == twin.methods, route.path
    v1 = {route.path for route in _http_routes(app) if route.path.startswith(API_V1 + "/")}
    assert {successor_path(route.path) for route in deprecated} == v1 - {f"{API_V1}/openapi.json"}
    assert len(deprecated) > 20


async def test_every_deprecated_route_answers_like_its_v1_twin_with_the_three_headers(
    client: httpx.AsyncClient, container: Container
) -> None:
    """Each unversioned route and method, called without credentials or body, answers as its v1 twin
    does (the same status and body type), with the deprecation headers; v1 answers carry none of them."""
    checked = 0
    for route in _deprecated_routes(create_app(container=container)):
        path = _concrete(route.path)
        for method in sorted(route.methods & _TESTED_METHODS):
            old = await client.request(method, path)
            new = await client.request(method, successor_path(path))

            assert old.status_code == new.status_code, (method, path, old.text, new.text)
            assert old.headers.get("content-type") == new.headers.get("content-type"), (method, path)
            _assert_deprecated(old, successor_path(path))
            assert not {"deprecation", "sunset"} & set(new.headers), (method, path)
            checked += 1
    assert checked > 30


async def test_the_seed_upload_path_queues_a_job_that_the_old_job_path_reads(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any]
) -> None:
    me = await sign_up()
    path = f"/tokens/{reference_token['id']}/upload-audio"

    uploaded = await client.post(path, files={"file": ("take.wav", tone(1.0))}, headers=me)

    assert uploaded.status_code == 202, uploaded.text
    _assert_deprecated(uploaded, f"{API_V1}{path}")
    job_id = UUID(uploaded.json()["id"])
    assert uploaded.headers["location"] == f"{API_V1}/jobs/{job_id}"
    old = await client.get(f"/jobs/{job_id}", headers=me)
    assert old.status_code == 200
    _assert_deprecated(old, f"{API_V1}/jobs/{job_id}")
    assert old.json() == (await client.get(f"{API_V1}/jobs/{job_id}", headers=me)).json()


async def test_the_old_login_and_catalog_paths_still_work(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any]
) -> None:
    await sign_up("legacy@example.com")

    login = await client.post(
        "/auth/login", data={"username": "legacy@example.com", "password": "correct horse battery"}
    )
    tokens = await client.get("/tokens")

    assert login.status_code == 200
    assert login.json()["access_token"]
    _assert_deprecated(login, f"{API_V1}/auth/login")
    assert tokens.status_code == 200
    assert tokens.json() == (await client.get(f"{API_V1}/tokens")).json()
    _assert_deprecated(tokens, f"{API_V1}/tokens")


async def test_the_old_schema_path_serves_the_v1_document_deprecated(client: httpx.AsyncClient) -> None:
    old = await client.get("/schema/openapi.json")
    new = await client.get(f"{API_V1}/openapi.json")

    assert old.json() == new.json()
    _assert_deprecated(old, f"{API_V1}/openapi.json")
    assert all(path.startswith(f"{API_V1}/") for path in new.json()["paths"])


async def test_operations_endpoints_are_unversioned_and_not_deprecated(client: httpx.AsyncClient) -> None:
    for path in ("/health", "/metrics", "/schema/swagger", "/"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert "deprecation" not in response.headers, path
        assert (await client.get(f"{API_V1}{path}")).status_code == 404, path
