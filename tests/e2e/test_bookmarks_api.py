"""Bookmarks and /mypage over HTTP."""

from __future__ import annotations

from uuid import uuid4

import httpx

from tests.support.api_client import SignUp


async def test_bookmarks_appear_on_mypage_with_their_targets(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sign_up: SignUp
) -> None:
    actor = (await client.post("/v1/actors", json={"name": "A"}, headers=admin_headers)).json()
    token = (
        await client.post(
            "/v1/tokens",
            json={"actor_id": actor["id"], "movie_title": "M", "text": "Line"},
            headers=admin_headers,
        )
    ).json()
    script = (
        await client.post("/v1/scripts", json={"title": "S", "text": "Words"}, headers=admin_headers)
    ).json()
    me = await sign_up()

    assert (await client.put(f"/v1/tokens/{token['id']}/bookmark", headers=me)).status_code == 201
    assert (await client.put(f"/v1/tokens/{token['id']}/bookmark", headers=me)).status_code == 204
    assert (await client.put(f"/v1/scripts/{script['id']}/bookmark", headers=me)).status_code == 201

    page = (await client.get("/v1/mypage", headers=me)).json()
    assert page["profile"]["role"] == "user"
    kinds = {b["kind"]: b for b in page["bookmarks"]}
    assert kinds["token"]["token"]["actor"]["name"] == "A"
    assert kinds["script"]["script"]["title"] == "S"

    assert (await client.delete(f"/v1/tokens/{token['id']}/bookmark", headers=me)).status_code == 204
    assert (await client.delete(f"/v1/tokens/{token['id']}/bookmark", headers=me)).status_code == 404
    assert len((await client.get("/v1/mypage", headers=me)).json()["bookmarks"]) == 1


async def test_bookmarks_need_sign_in_and_an_existing_target(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    assert (await client.get("/v1/mypage")).status_code == 401
    me = await sign_up()
    assert (await client.put(f"/v1/tokens/{uuid4()}/bookmark", headers=me)).status_code == 404


async def test_deleting_a_token_removes_its_bookmarks(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sign_up: SignUp
) -> None:
    actor = (await client.post("/v1/actors", json={"name": "A"}, headers=admin_headers)).json()
    token = (
        await client.post(
            "/v1/tokens",
            json={"actor_id": actor["id"], "movie_title": "M", "text": "Line"},
            headers=admin_headers,
        )
    ).json()
    me = await sign_up()
    await client.put(f"/v1/tokens/{token['id']}/bookmark", headers=me)
    await client.delete(f"/v1/tokens/{token['id']}", headers=admin_headers)
    assert (await client.get("/v1/mypage", headers=me)).json()["bookmarks"] == []
