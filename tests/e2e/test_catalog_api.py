"""Catalog over HTTP against real Postgres: admin writes, public reads, pagination, filters, audio."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import uuid4

import httpx
from sqlalchemy import event

from entrypoints.bootstrap import Container
from tests.support.api_client import SignUp
from tests.support.encoding import encode_audio
from tests.support.speech import Voice, synthesize


async def _actor(
    client: httpx.AsyncClient, admin: dict[str, str], name: str = "Meryl Streep"
) -> dict[str, Any]:
    response = await client.post("/v1/actors", json={"name": name, "bio": "Actor"}, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def _token(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    actor_id: str,
    text: str = "Hello there",
    movie: str = "Film",
) -> dict[str, Any]:
    body = {"actor_id": actor_id, "movie_title": movie, "movie_year": 1999, "text": text}
    response = await client.post("/v1/tokens", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


@contextmanager
def count_queries(container: Container) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(container.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(container.engine.sync_engine, "before_cursor_execute", record)


async def test_writes_need_a_token_and_the_admin_role(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    anonymous = await client.post("/v1/actors", json={"name": "X"})
    assert anonymous.status_code == 401
    user = await sign_up()
    forbidden = await client.post("/v1/actors", json={"name": "X"}, headers=user)
    assert forbidden.status_code == 403
    assert forbidden.json()["type"] == "/problems/forbidden"


async def test_token_detail_embeds_its_actor(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    actor = await _actor(client, admin_headers)
    token = await _token(client, admin_headers, actor["id"])
    detail = await client.get(f"/v1/tokens/{token['id']}")
    assert detail.status_code == 200
    assert detail.json()["actor"] == actor
    assert detail.json()["movie_year"] == 1999


async def test_token_list_paginates_filters_and_searches(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    first = await _actor(client, admin_headers, "First Actor")
    second = await _actor(client, admin_headers, "Second Actor")
    for i in range(5):
        await _token(client, admin_headers, first["id"], text=f"Line number {i}", movie="Alpha 100%")
    await _token(client, admin_headers, second["id"], text="You talking to me?", movie="Taxi Driver")

    page = (await client.get("/v1/tokens", params={"limit": 2, "offset": 1})).json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (6, 2, 1, 2)
    by_actor = (await client.get("/v1/tokens", params={"actor_id": second["id"]})).json()
    assert [t["text"] for t in by_actor["items"]] == ["You talking to me?"]
    by_movie = (await client.get("/v1/tokens", params={"movie": "taxi"})).json()
    assert by_movie["total"] == 1
    literal_percent = (await client.get("/v1/tokens", params={"movie": "100%"})).json()
    assert literal_percent["total"] == 5
    wildcard_is_literal = (await client.get("/v1/tokens", params={"q": "_"})).json()
    assert wildcard_is_literal["total"] == 0
    searched = (await client.get("/v1/tokens", params={"q": "TALKING"})).json()
    assert searched["items"][0]["actor"]["name"] == "Second Actor"


async def test_a_page_of_twenty_tokens_costs_a_constant_number_of_queries(
    client: httpx.AsyncClient, admin_headers: dict[str, str], container: Container
) -> None:
    actors = [await _actor(client, admin_headers, f"Actor {i}") for i in range(4)]
    for i in range(2):
        await _token(client, admin_headers, actors[i % 4]["id"], text=f"Line {i}")
    with count_queries(container) as small_page:
        assert len((await client.get("/v1/tokens", params={"limit": 20})).json()["items"]) == 2
    for i in range(2, 25):
        await _token(client, admin_headers, actors[i % 4]["id"], text=f"Line {i}")
    with count_queries(container) as full_page:
        assert len((await client.get("/v1/tokens", params={"limit": 20})).json()["items"]) == 20
    assert len(full_page) == len(small_page) <= 3


async def test_script_filters_by_title_and_validates_words(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    words = [
        {"index": 0, "text": "To", "start": 0.0, "end": 0.2},
        {"index": 1, "text": "be", "start": 0.25, "end": 0.5},
    ]
    created = await client.post(
        "/v1/scripts", json={"title": "Hamlet", "text": "To be", "words": words}, headers=admin_headers
    )
    assert created.status_code == 201
    await client.post(
        "/v1/scripts", json={"title": "Macbeth", "text": "Out, damned spot"}, headers=admin_headers
    )
    listed = (await client.get("/v1/scripts", params={"title": "ham"})).json()
    assert [s["title"] for s in listed["items"]] == ["Hamlet"]
    detail = (await client.get(f"/v1/scripts/{created.json()['id']}")).json()
    assert [w["text"] for w in detail["words"]] == ["To", "be"]

    backwards = [{**words[0], "start": 0.3, "end": 0.2}]
    bad = await client.post(
        "/v1/scripts", json={"title": "X", "text": "Y", "words": backwards}, headers=admin_headers
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "words[0].end"


async def test_unknown_ids_are_404_and_malformed_ids_never_500(client: httpx.AsyncClient) -> None:
    for path in (f"/v1/tokens/{uuid4()}", f"/v1/scripts/{uuid4()}", f"/v1/actors/{uuid4()}"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json()["type"] == "/problems/not-found"
    for path in (
        "/v1/tokens/not-a-uuid",
        "/v1/tokens?limit=0",
        "/v1/tokens?limit=abc",
        "/v1/tokens?offset=-1",
        "/v1/tokens?actor_id=x",
    ):
        response = await client.get(path)
        assert 400 <= response.status_code < 500, (path, response.status_code)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_reference_audio_upload_then_playback_through_a_signed_url(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    actor = await _actor(client, admin_headers)
    token = await _token(client, admin_headers, actor["id"], text="We do not get to choose.")
    speech = synthesize("We do not get to choose.", Voice("en-us+f3", rate=150))
    wav = encode_audio(speech.samples, speech.sample_rate, "wav")
    uploaded = await client.put(
        f"/v1/tokens/{token['id']}/reference-audio",
        files={"file": ("line.bin", wav, "application/octet-stream")},
        headers=admin_headers,
    )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["content_type"] == "audio/wav"
    assert abs(uploaded.json()["duration_seconds"] - speech.duration) < 0.05
    # No word timings were given: forced alignment timed every word, "not" too (espeak merges it).
    words = (await client.get(f"/v1/tokens/{token['id']}")).json()["words"]
    assert [word["text"] for word in words] == ["We", "do", "not", "get", "to", "choose"]
    for word, spoken in zip(words, speech.words, strict=True):
        assert abs(word["start"] - spoken.start) < 0.12
        assert abs(word["end"] - spoken.end) < 0.12
    assert all(earlier["end"] <= later["start"] for earlier, later in itertools.pairwise(words))

    redirect = await client.get(f"/v1/tokens/{token['id']}/reference-audio", follow_redirects=False)
    assert redirect.status_code == 307
    location = redirect.headers["location"]
    played = await client.get(location.removeprefix("http://testserver.local"))
    assert played.status_code == 200
    assert played.content == wav
    tampered = await client.get(location.removeprefix("http://testserver.local").replace("sig=", "sig=00"))
    assert tampered.status_code == 403


async def test_reference_upload_of_a_non_audio_file_is_415_and_changes_nothing(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    actor = await _actor(client, admin_headers)
    token = await _token(client, admin_headers, actor["id"])
    rejected = await client.put(
        f"/v1/tokens/{token['id']}/reference-audio",
        files={"file": ("fake.wav", b"<html>definitely not audio</html>", "audio/wav")},
        headers=admin_headers,
    )
    assert rejected.status_code == 415
    assert (await client.get(f"/v1/tokens/{token['id']}")).json()["reference_audio"] is None
    no_field = await client.put(
        f"/v1/tokens/{token['id']}/reference-audio",
        files={"other": ("x", b"1", "audio/wav")},
        headers=admin_headers,
    )
    assert no_field.status_code == 400


async def test_deleting_an_actor_with_tokens_is_409(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    actor = await _actor(client, admin_headers)
    token = await _token(client, admin_headers, actor["id"])
    assert (await client.delete(f"/v1/actors/{actor['id']}", headers=admin_headers)).status_code == 409
    assert (await client.delete(f"/v1/tokens/{token['id']}", headers=admin_headers)).status_code == 204
    assert (await client.delete(f"/v1/actors/{actor['id']}", headers=admin_headers)).status_code == 204


async def test_script_reference_upload_gives_each_word_versioned_features(
    client: httpx.AsyncClient, reference_script: dict[str, Any]
) -> None:
    script = (await client.get(f"/v1/scripts/{reference_script['id']}")).json()
    assert script["feature_config_version"].startswith("voice-features/")
    for word in script["words"]:
        features = word["reference_features"]
        assert features["version"] == script["feature_config_version"]
        assert len(features["mfcc"]) == len(features["energy_db"]) > 0


async def test_words_that_do_not_cover_the_text_are_a_422_naming_the_first_mismatch(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """The demo catalog once had lines whose words skipped "not" and "the" (espeak merged them)."""
    words = [
        {"index": 0, "text": "We", "start": 0.0, "end": 0.2},
        {"index": 1, "text": "do", "start": 0.2, "end": 0.4},
        {"index": 2, "text": "get", "start": 0.4, "end": 0.6},
    ]
    body = {"title": "Choice", "text": "We do not get", "words": words}
    refused = await client.post("/v1/scripts", json=body, headers=admin_headers)

    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "words[2].text"
    fixed = [
        *words[:2],
        {"index": 2, "text": "not", "start": 0.4, "end": 0.5},
        {**words[2], "index": 3, "start": 0.5},
    ]
    created = await client.post("/v1/scripts", json={**body, "words": fixed}, headers=admin_headers)
    assert created.status_code == 201, created.text
    replaced = await client.put(
        f"/v1/scripts/{created.json()['id']}", json={**body, "text": "We do get it"}, headers=admin_headers
    )
    assert replaced.status_code == 422
