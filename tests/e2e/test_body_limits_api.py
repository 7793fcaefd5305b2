"""Request bodies are refused before they are read: the caller's rights first, then the route's size
limit (the configured file limit plus a little for the multipart envelope). Each test streams a body and
counts how much of it the app consumed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from entrypoints.http.controllers.practice_items import MULTIPART_OVERHEAD_BYTES
from entrypoints.settings import Settings
from tests.support.api_client import SignUp

CHUNK = 64 * 1024
MULTIPART = {"Content-Type": "multipart/form-data; boundary=xyz"}


class CountedBody:
    """``total`` bytes in chunks, counting what the server pulled."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            chunk = b"\0" * min(CHUNK, self.total - self.sent)
            self.sent += len(chunk)
            yield chunk


async def _send(client: httpx.AsyncClient, method: str, url: str, body: CountedBody, **headers: str) -> Any:
    return await client.request(
        method, url, content=body, headers={**MULTIPART, "Content-Length": str(body.total), **headers}
    )


async def test_a_users_large_reference_audio_is_refused_before_it_is_read(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any]
) -> None:
    body = CountedBody(60 * 1024 * 1024)
    answer = await _send(
        client, "PUT", f"/v1/tokens/{reference_token['id']}/reference-audio", body, **await sign_up()
    )

    assert (answer.status_code, answer.json()["type"]) == (403, "/problems/forbidden")
    assert body.sent <= CHUNK


async def test_an_anonymous_upload_is_refused_before_it_is_read(
    client: httpx.AsyncClient, reference_token: dict[str, Any]
) -> None:
    body = CountedBody(5 * 1024 * 1024)
    answer = await _send(client, "POST", f"/v1/tokens/{reference_token['id']}/upload-audio", body)

    assert (answer.status_code, answer.json()["type"]) == (401, "/problems/unauthenticated")
    assert body.sent <= CHUNK


async def test_an_upload_larger_than_the_kinds_limit_is_refused_before_it_is_read(
    client: httpx.AsyncClient, settings: Settings, sign_up: SignUp, reference_token: dict[str, Any]
) -> None:
    body = CountedBody(settings.token_max_bytes + MULTIPART_OVERHEAD_BYTES + 1)
    answer = await _send(
        client, "POST", f"/v1/tokens/{reference_token['id']}/upload-audio", body, **await sign_up()
    )

    assert answer.status_code == 413
    assert body.sent <= CHUNK


async def test_a_reference_audio_larger_than_its_limit_is_refused_before_it_is_read(
    client: httpx.AsyncClient,
    settings: Settings,
    admin_headers: dict[str, str],
    reference_token: dict[str, Any],
) -> None:
    body = CountedBody(settings.reference_max_bytes + MULTIPART_OVERHEAD_BYTES + 1)
    answer = await _send(
        client, "PUT", f"/v1/tokens/{reference_token['id']}/reference-audio", body, **admin_headers
    )

    assert answer.status_code == 413
    assert body.sent <= CHUNK
