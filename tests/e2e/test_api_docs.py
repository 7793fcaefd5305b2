"""The API docs at /schema: Swagger UI served by the service itself, under a CSP that allows nothing else."""

from __future__ import annotations

import re

import httpx
import pytest

PAGES = ["/schema", "/schema/swagger"]
_REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def _csp(response: httpx.Response) -> dict[str, list[str]]:
    directives = [
        part.split() for part in response.headers["content-security-policy"].split(";") if part.strip()
    ]
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("path", PAGES)
async def test_the_docs_page_loads_nothing_from_another_origin(client: httpx.AsyncClient, path: str) -> None:
    page = await client.get(path)

    assert page.status_code == 200
    references = _REFERENCES.findall(page.text)
    assert references
    assert [reference for reference in references if not reference.startswith("/schema/")] == []
    assert "cdn" not in page.text.lower()
    assert "<script>" not in page.text  # every script from a file: the CSP allows no inline one


@pytest.mark.parametrize("path", PAGES)
async def test_the_docs_page_carries_a_strict_csp(client: httpx.AsyncClient, path: str) -> None:
    policy = _csp(await client.get(path))

    assert (policy["default-src"], policy["script-src"], policy["connect-src"]) == (
        ["'none'"],
        ["'self'"],
        ["'self'"],
    )
    assert policy["frame-ancestors"] == ["'none'"]


async def test_every_file_the_docs_page_references_is_served_by_the_service(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/schema/swagger")

    for reference in _REFERENCES.findall(page.text):
        asset = await client.get(reference)
        assert asset.status_code == 200, reference
        assert asset.content, reference
        assert "content-security-policy" in asset.headers


async def test_the_page_starts_swagger_ui_on_the_openapi_document(client: httpx.AsyncClient) -> None:
    page = await client.get("/schema/swagger")
    starter = await client.get("/schema/assets/api-docs.js")

    assert 'data-spec-url="/v1/openapi.json"' in page.text
    assert "SwaggerUIBundle(" in starter.text
    assert (await client.get("/v1/openapi.json")).json()["info"]["title"] == "Voice practice API"


async def test_the_packaged_swagger_ui_is_a_version_that_reads_openapi_3_1(client: httpx.AsyncClient) -> None:
    document = (await client.get("/v1/openapi.json")).json()
    bundle = (await client.get("/schema/assets/swagger-ui-bundle.js")).text

    assert document["openapi"].startswith("3.1")
    assert "OpenAPI 3.1" in bundle or "isOAS31" in bundle


@pytest.mark.parametrize("path", ["/schema/assets/../../settings.py", "/schema/assets/%2e%2e/api_docs.py"])
async def test_nothing_outside_the_asset_folders_is_served(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 404
