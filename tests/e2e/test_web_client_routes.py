"""How the API serves the web client: the page at `/`, its files under `/app/`, and their security headers.

What the client does in a browser is tested in tests/browser/.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re

import httpx
import pytest

from entrypoints.settings import S3Settings, Settings
from entrypoints.web.routes import STATIC_DIR, content_security_policy

LOCAL_REFERENCE = re.compile(r"""(?:src|href)="(/app/[^"]+)\"""")
MODULE_IMPORT = re.compile(r"""from\s+"(\.{1,2}/[^"]+)\"""")


def _directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";"))}


async def test_the_page_at_the_root_is_html_with_a_strict_content_security_policy(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = _directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "blob:" in policy["media-src"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-cache"
    assert "<main" in response.text


async def test_every_file_the_page_and_its_modules_load_is_served_from_this_origin(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/")).text
    pending = LOCAL_REFERENCE.findall(page)
    served: dict[str, str] = {}
    while pending:
        path = pending.pop()
        if path in served:
            continue
        response = await client.get(path)
        assert response.status_code == 200, path
        served[path] = response.headers["content-type"]
        if path.endswith(".js"):
            folder = posixpath.dirname(path)
            pending += [
                posixpath.normpath(posixpath.join(folder, module))
                for module in MODULE_IMPORT.findall(response.text)
            ]

    assert served["/app/app.js"].startswith("text/javascript")
    assert served["/app/app.css"].startswith("text/css")
    assert {"/app/api.js", "/app/charts.js", "/app/dom.js", "/app/recorder.js", "/app/config.js"} <= set(
        served
    )
    views = {f"/app/views/{path.name}" for path in (STATIC_DIR / "views").glob("*.js")}
    assert len(views) == 6
    assert views <= set(served)
    assert served["/app/views/job.js"].startswith("text/javascript")


def test_no_file_of_the_client_loads_anything_from_another_origin() -> None:
    for path in (path for path in STATIC_DIR.rglob("*") if path.is_file()):
        text = path.read_text()
        external = [url for url in re.findall(r"https?://[^\s\"'`)]+", text) if "www.w3.org" not in url]
        assert external == [], path.name
        assert ".innerHTML" not in text, path.name  # text nodes only (dom.js)


def test_every_module_of_the_client_is_type_checked() -> None:
    modules = list(STATIC_DIR.rglob("*.js"))

    assert len(modules) > 10
    for module in modules:
        assert module.read_text().startswith("// @ts-check\n"), module.name


async def test_assets_carry_the_security_headers_and_revalidate(client: httpx.AsyncClient) -> None:
    response = await client.get("/app/app.js")

    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in response.headers
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["etag"]


@pytest.mark.parametrize(
    "path", ["/app/../routes.py", "/app/%2e%2e/routes.py", "/app/missing.js", "/app/", "/index.html"]
)
async def test_nothing_outside_the_static_folder_is_served(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 404
    assert "def build_web_router" not in response.text


async def test_the_client_is_not_part_of_the_api_description(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/v1/openapi.json")).json()["paths"]

    assert "/" not in paths
    assert not [path for path in paths if path.startswith("/app")]


def test_reference_audio_from_s3_is_allowed_from_the_endpoint_browsers_reach() -> None:
    settings = Settings(
        storage_backend="s3",
        s3=S3Settings(
            endpoint_url="http://minio:9000", public_endpoint_url="https://media.example.com/bucket"
        ),
    )

    media = _directives(content_security_policy(settings))["media-src"]

    assert "https://media.example.com" in media
    assert "http://minio:9000" not in media


def test_reference_audio_from_aws_s3_is_allowed_from_its_hosts() -> None:
    settings = dataclasses.replace(Settings(), storage_backend="s3")

    assert "https://*.amazonaws.com" in _directives(content_security_policy(settings))["media-src"]
