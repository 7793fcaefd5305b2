"""S3-only behaviour against moto's S3 server over real HTTP; shared behaviour is in the contract test."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from adapters.storage.common import StorageUnavailableError
from adapters.storage.s3 import S3ObjectStorage, S3StorageConfig

KEY = "recordings/0190a6b2-7c1d-7e55-9a4f-3c2b1a0d9e8f.wav"


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_ping_fails_when_the_endpoint_does_not_answer(s3_config: S3StorageConfig) -> None:
    dead = dataclasses.replace(
        s3_config,
        endpoint_url=f"http://127.0.0.1:{_unused_port()}",
        connect_timeout_seconds=1,
        ping_timeout_seconds=3,
    )
    async with S3ObjectStorage(dead) as storage:
        with pytest.raises(StorageUnavailableError):
            await storage.ping()


async def test_ping_fails_when_the_bucket_does_not_exist(s3_config: S3StorageConfig) -> None:
    async with S3ObjectStorage(s3_config) as storage:
        with pytest.raises(StorageUnavailableError):
            await storage.ping()


async def test_ensure_bucket_is_idempotent(s3_config: S3StorageConfig) -> None:
    async with S3ObjectStorage(s3_config) as storage:
        await storage.ensure_bucket()
        await storage.ensure_bucket()

        await storage.ping()


async def test_using_the_store_before_start_is_a_clear_error(s3_config: S3StorageConfig) -> None:
    storage = S3ObjectStorage(s3_config)

    with pytest.raises(RuntimeError, match="start"):
        await storage.get(KEY)


async def test_close_then_start_gives_a_working_client_again(s3_config: S3StorageConfig) -> None:
    storage = S3ObjectStorage(s3_config)
    await storage.start()
    await storage.ensure_bucket()
    await storage.close()

    await storage.start()
    try:
        await storage.put(KEY, b"again", "audio/wav")
        assert await storage.get(KEY) == b"again"
    finally:
        await storage.close()


async def test_presigned_put_signs_the_content_type_with_sigv4(s3_storage: S3ObjectStorage) -> None:
    presigned = await s3_storage.presigned_put_url(KEY, "audio/wav", expires_in_seconds=120)

    query = parse_qs(urlsplit(presigned.url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-SignedHeaders"] == ["content-type;host"]
    assert presigned.headers == {"Content-Type": "audio/wav"}


async def test_a_presigned_put_for_a_declared_size_signs_its_content_length(
    s3_storage: S3ObjectStorage,
) -> None:
    """S3 checks every signed header: a body of any other length than the one declared is refused.
    (moto's server does not check signatures, so this is proven on what S3 checks: the URL.)"""
    presigned = await s3_storage.presigned_put_url(
        KEY, "audio/wav", expires_in_seconds=120, content_length=4096
    )

    query = parse_qs(urlsplit(presigned.url).query)
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host"]
    assert presigned.headers == {"Content-Type": "audio/wav", "Content-Length": "4096"}


async def test_presigned_url_carries_the_requested_lifetime(s3_storage: S3ObjectStorage) -> None:
    """moto's server does not enforce X-Amz-Expires, so expiry is proven on what S3 checks: the URL."""
    presigned = await s3_storage.presigned_get_url(KEY, expires_in_seconds=90)

    query = parse_qs(urlsplit(presigned.url).query)
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert query["X-Amz-Expires"] == ["90"]
    assert timedelta(0) <= signed_at + timedelta(seconds=90) - presigned.expires_at <= timedelta(seconds=1)


async def test_presigned_urls_are_signed_for_the_public_endpoint(
    s3_config: S3StorageConfig, moto_server: str
) -> None:
    """Clients may reach the store by another name than the API does; SigV4 signs the host they use."""
    public_host = moto_server.replace("127.0.0.1", "localhost")
    config = dataclasses.replace(s3_config, public_endpoint_url=public_host)
    async with S3ObjectStorage(config) as storage:
        await storage.ensure_bucket()
        await storage.put(KEY, b"public", "audio/wav")
        presigned = await storage.presigned_get_url(KEY, expires_in_seconds=60)

        async with httpx.AsyncClient() as client:
            response = await client.get(presigned.url)

    assert presigned.url.startswith(f"{public_host}/{config.bucket}/")
    assert response.status_code == 200
    assert response.content == b"public"


async def test_list_keys_reads_every_page(s3_config: S3StorageConfig) -> None:
    keys = [f"recordings/{index}.wav" for index in range(7)]
    async with S3ObjectStorage(dataclasses.replace(s3_config, list_page_size=2)) as storage:
        await storage.ensure_bucket()
        await asyncio.gather(*(storage.put(key, b"", "audio/wav") for key in keys))

        assert await storage.list_keys("recordings/") == keys
