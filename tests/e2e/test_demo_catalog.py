"""The demo catalog loads through the use cases, with playable reference audio, and only once."""

from __future__ import annotations

import httpx

from entrypoints.bootstrap import Container
from entrypoints.demo import load_demo_catalog


async def test_the_demo_catalog_loads_once_with_real_reference_audio(
    container: Container, client: httpx.AsyncClient
) -> None:
    assert "loaded" in await load_demo_catalog(container)
    assert "not loaded" in await load_demo_catalog(container)

    tokens = (await client.get("/v1/tokens")).json()
    assert tokens["total"] == 5
    for token in tokens["items"]:
        assert token["reference_audio"]["content_type"] == "audio/ogg"
        assert 1.0 < token["reference_audio"]["duration_seconds"] < 10.0
        assert token["words"]
    scripts = (await client.get("/v1/scripts")).json()
    assert scripts["total"] == 2
    script = (await client.get(f"/v1/scripts/{scripts['items'][0]['id']}")).json()
    assert len(script["words"]) > 20
    assert script["words"][-1]["end"] <= script["reference_audio"]["duration_seconds"] + 0.1

    redirect = await client.get(f"/v1/tokens/{tokens['items'][0]['id']}/reference-audio")
    audio = await client.get(redirect.headers["location"].removeprefix("http://testserver.local"))
    assert audio.status_code == 200
    assert audio.content[:4] == b"OggS"
