"""The composition root: the only place that builds adapters and hands them to use cases.

The HTTP app, the worker and the CLI all start from ``build_container``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from adapters.audio.decoding import PyAvAudioInspector
from adapters.persistence.unit_of_work import SqlaUnitOfWork
from adapters.probes import PostgresProbe, RedisProbe, StorageProbe
from adapters.security.passwords import Argon2PasswordHasher
from adapters.security.tokens import JwtTokenIssuer
from adapters.storage.local import LocalObjectStorage
from adapters.storage.s3 import S3ObjectStorage, S3StorageConfig
from adapters.system import SystemClock, Uuid7Generator
from application.accounts import Authentication, Profiles, Registration
from application.bookmarks import Bookmarks
from application.catalog import CatalogAdministration, CatalogQueries
from application.ports.persistence import UnitOfWork
from application.ports.storage import ObjectStorage
from application.readiness import Readiness
from domain.audio import AudioLimits
from entrypoints.settings import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
    )


def build_local_storage(settings: Settings) -> LocalObjectStorage:
    return LocalObjectStorage(
        settings.local_storage_dir,
        public_base_url=settings.public_base_url,
        signing_secret=settings.storage_url_secret,
        max_upload_bytes=settings.reference_max_bytes,
    )


async def build_storage(settings: Settings) -> ObjectStorage:
    if settings.storage_backend == "s3":
        s3 = S3ObjectStorage(
            S3StorageConfig(
                bucket=settings.s3.bucket,
                region=settings.s3.region,
                endpoint_url=settings.s3.endpoint_url,
                public_endpoint_url=settings.s3.public_endpoint_url,
                access_key_id=settings.s3.access_key_id,
                secret_access_key=settings.s3.secret_access_key,
                addressing_style="virtual" if settings.s3.addressing_style == "virtual" else "path",
            )
        )
        await s3.start()
        return s3
    return build_local_storage(settings)


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    redis: Redis
    storage: ObjectStorage
    registration: Registration
    authentication: Authentication
    profiles: Profiles
    catalog_queries: CatalogQueries
    catalog_admin: CatalogAdministration
    bookmarks: Bookmarks
    readiness: Readiness
    session_factory: async_sessionmaker[AsyncSession] = field(repr=False)

    def unit_of_work(self) -> UnitOfWork:
        return SqlaUnitOfWork(self.session_factory)

    async def close(self) -> None:
        close_storage = getattr(self.storage, "close", None)
        if close_storage is not None:
            await close_storage()
        await self.redis.aclose()
        await self.engine.dispose()


async def build_container(settings: Settings, storage: ObjectStorage | None = None) -> Container:
    engine = create_engine(settings)
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    storage = storage or await build_storage(settings)
    clock, ids = SystemClock(), Uuid7Generator()
    hasher = Argon2PasswordHasher()
    tokens = JwtTokenIssuer(settings.secret_key, clock, timedelta(seconds=settings.access_token_ttl_seconds))

    def uow() -> UnitOfWork:
        return SqlaUnitOfWork(session_factory)

    reference_limits = AudioLimits(
        max_bytes=settings.reference_max_bytes, max_seconds=settings.reference_max_seconds
    )
    return Container(
        settings=settings,
        engine=engine,
        redis=redis,
        storage=storage,
        registration=Registration(uow, hasher, clock, ids),
        authentication=Authentication(uow, hasher, tokens),
        profiles=Profiles(uow),
        catalog_queries=CatalogQueries(uow, storage),
        catalog_admin=CatalogAdministration(uow, storage, PyAvAudioInspector(), reference_limits, clock, ids),
        bookmarks=Bookmarks(uow, clock),
        readiness=Readiness([PostgresProbe(engine), RedisProbe(redis), StorageProbe(storage)]),
        session_factory=session_factory,
    )
