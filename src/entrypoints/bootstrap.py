"""The composition root: the only place that builds adapters and hands them to use cases.

The HTTP app, the worker and the CLI all start from ``build_container``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

import msgspec
from redis.asyncio import Redis
from saq import Queue
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from adapters.audio.decoding import PyAvAudioInspector
from adapters.audio.reference_features import VoiceReferenceFeatures
from adapters.audio.reference_processing import ReferenceAudioProcessor
from adapters.cache.redis_catalog_pages import RedisCatalogPages
from adapters.events.redis_fanout import RedisEventFanout, RedisJobEventFeed, RedisJobEventPublisher
from adapters.persistence.connections import discard_closed_connections
from adapters.persistence.idempotency import PostgresIdempotencyStore
from adapters.persistence.job_intake import AsyncpgJobIntake
from adapters.persistence.job_repositories import SqlaOutboxClaims
from adapters.persistence.unit_of_work import SqlaUnitOfWork
from adapters.probes import PostgresProbe, RedisProbe, StorageProbe
from adapters.queue.relay_wakeups import RedisRelayWakeups
from adapters.queue.saq_relay import build_queue
from adapters.ratelimit.redis_gcra import RedisRateLimiter
from adapters.redis_pipelining import RedisAutoPipeline
from adapters.security.passwords import Argon2PasswordHasher
from adapters.security.tokens import JwtAccessTokenIssuer, JwtStreamTickets
from adapters.storage.local import LocalObjectStorage
from adapters.system import SystemClock, Uuid7Generator
from application.accounts import Authentication, Profiles, Registration
from application.analysis.feed import UserFeed
from application.analysis.jobs import JobStreamTickets, UserJobs
from application.analysis.maintenance import Housekeeping
from application.analysis.relay import OutboxRelay
from application.analysis.resumable import ResumableUploads
from application.analysis.settings import PipelineSettings
from application.analysis.uploads import RecordingUploads
from application.analysis.webhooks import AnalysisWebhooks
from application.bookmarks import Bookmarks
from application.catalog import CatalogAdministration, CatalogQueries
from application.operations import PipelineStatistics
from application.ports.analysis import AnalysisRequest, JobEventPublisher
from application.ports.idempotency import IdempotencyStore
from application.ports.persistence import UnitOfWork
from application.ports.storage import MultipartStorage
from application.readiness import Readiness
from domain.analysis.outbox import RetryPolicy
from domain.audio import AudioLimits
from entrypoints.settings import Settings
from shared_kernel.webhooks import WebhookVerifier

if TYPE_CHECKING:
    import aiohttp

    from adapters.analysis.http_dispatcher import HttpAnalysisDispatcher

logger = logging.getLogger(__name__)
DATABASE_CONNECT_TIMEOUT_SECONDS = 5.0


def create_engine(settings: Settings) -> AsyncEngine:
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_overflow,
        # A request that cannot get a connection in a few seconds is answered 503 with Retry-After
        # (adapters.outages), not held for SQLAlchemy's default 30 s.
        pool_timeout=settings.database_pool_timeout_seconds,
        # An unreachable database fails a request in seconds (503), not after asyncpg's default minute.
        connect_args={"timeout": DATABASE_CONNECT_TIMEOUT_SECONDS},
    )
    # A connection the database dropped (restart, failover) is replaced before use, not failed on; no
    # pre-ping, which costs three round trips per checkout (adapters/persistence/connections.py).
    discard_closed_connections(engine)
    return engine


def create_claims_engine(settings: Settings) -> AsyncEngine:
    """The relay's claims and marks: single statements in autocommit (no BEGIN and COMMIT round trips), connections
    the database dropped discarded at checkout like the main pool's (a claim that still fails on one
    changes nothing; the next round gets a new one). Connections are opened on first use: an API
    process opens none."""
    engine = create_async_engine(
        settings.database_url,
        # The wake-up loop and the sweep claim one batch at a time each, and the marks are one batch at
        # a time; overflow serves bursts of relay jobs left in SAQ by an older API.
        pool_size=3,
        max_overflow=8,
        pool_timeout=settings.database_pool_timeout_seconds,
        isolation_level="AUTOCOMMIT",
        connect_args={"timeout": DATABASE_CONNECT_TIMEOUT_SECONDS},
        # The claim's JSON (the words and their reference features) decoded by msgspec, not the json
        # module: a fiftieth of the worker's CPU per job went to decoding them (profile at 20 jobs/s).
        json_deserializer=msgspec.json.decode,
    )
    discard_closed_connections(engine)
    return engine


def build_local_storage(settings: Settings) -> LocalObjectStorage:
    return LocalObjectStorage(
        settings.local_storage_dir,
        public_base_url=settings.public_base_url,
        signing_secret=settings.storage_url_secret,
        max_upload_bytes=settings.reference_max_bytes,
    )


async def build_storage(settings: Settings) -> MultipartStorage:
    if settings.storage_backend == "s3":
        # aioboto3 (botocore, aiohttp) is imported only by processes that use S3: it is a third of an
        # API's start-up on local storage otherwise.
        from adapters.storage.s3 import S3ObjectStorage, S3StorageConfig

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
    claims_engine: AsyncEngine
    outbox_claims: SqlaOutboxClaims
    redis: Redis
    storage: MultipartStorage
    registration: Registration
    authentication: Authentication
    profiles: Profiles
    catalog_queries: CatalogQueries
    catalog_admin: CatalogAdministration
    bookmarks: Bookmarks
    readiness: Readiness
    pipeline: PipelineSettings
    redis_calls: RedisAutoPipeline
    event_fanout: RedisEventFanout
    queue: Queue
    relay_wakeups: RedisRelayWakeups
    dispatcher: LazyAnalysisDispatcher
    idempotency: IdempotencyStore
    uploads: RecordingUploads
    resumable_uploads: ResumableUploads
    jobs: UserJobs
    stream_tickets: JobStreamTickets
    feed: UserFeed
    webhooks: AnalysisWebhooks
    webhook_verifier: WebhookVerifier
    relay: OutboxRelay
    housekeeping: Housekeeping
    pipeline_statistics: PipelineStatistics
    rate_limiter: RedisRateLimiter
    publisher: JobEventPublisher
    catalog_pages: RedisCatalogPages
    reference_audio: ReferenceAudioProcessor
    session_factory: async_sessionmaker[AsyncSession] = field(repr=False)

    def unit_of_work(self) -> UnitOfWork:
        return SqlaUnitOfWork(self.session_factory, self.publisher)

    async def close(self) -> None:
        """Release every resource; one failing (say, Redis already gone) does not keep the rest open."""
        closers: list[Callable[[], Awaitable[object]]] = [
            self.event_fanout.close,
            self.redis_calls.close,
            self.dispatcher.close,
            self.queue.disconnect,
            self.redis.aclose,
            self.engine.dispose,
            self.outbox_claims.close,
            self.claims_engine.dispose,
            partial(asyncio.to_thread, self.reference_audio.close),
        ]
        close_storage = getattr(self.storage, "close", None)
        if close_storage is not None:
            closers.insert(0, close_storage)
        for close in closers:
            try:
                await close()
            except Exception:
                logger.warning("closing a resource failed", exc_info=True)


class LazyAnalysisDispatcher:
    """The analysis servers' HTTP dispatcher, imported and built by ``start`` (a worker, at start-up) or
    at the first dispatch, on the loop that dispatches. Only workers dispatch; the API builds the same
    container and so never imports aiohttp nor parses certifi's bundle into a TLS context
    (docs/performance.md, "Startup")."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._dispatcher: HttpAnalysisDispatcher | None = None
        self._session: aiohttp.ClientSession | None = None

    async def dispatch(self, request: AnalysisRequest) -> None:
        await (self._dispatcher or self.start()).dispatch(request)

    def start(self) -> HttpAnalysisDispatcher:
        if self._dispatcher is not None:
            return self._dispatcher
        from adapters.analysis.http_dispatcher import HttpAnalysisDispatcher, analysis_session

        settings = self._settings
        self._session = analysis_session(timeout_seconds=settings.analysis_dispatch_timeout_seconds)
        self._dispatcher = HttpAnalysisDispatcher(
            self._session,
            settings.analysis_token_server_url,
            settings.analysis_script_server_url,
            settings.analysis_server_auth_token,
        )
        return self._dispatcher

    async def close(self) -> None:
        session, self._session, self._dispatcher = self._session, None, None
        if session is not None:
            await session.close()


async def build_container(settings: Settings, storage: MultipartStorage | None = None) -> Container:
    engine = create_engine(settings)
    claims_engine = create_claims_engine(settings)
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    storage = storage or await build_storage(settings)
    clock, ids = SystemClock(), Uuid7Generator()
    hasher = Argon2PasswordHasher()
    access_tokens = JwtAccessTokenIssuer(
        settings.secret_key, clock, timedelta(seconds=settings.access_token_ttl_seconds)
    )

    reference_limits = AudioLimits(
        max_bytes=settings.reference_max_bytes, max_seconds=settings.reference_max_seconds
    )
    pipeline = pipeline_settings(settings)
    # One auto-pipeline for the process's small Redis calls (publishes, rate-limit scripts): concurrent
    # requests' calls share round trips.
    redis_calls = RedisAutoPipeline(redis)
    event_fanout = RedisEventFanout(redis, pipeline=redis_calls)
    publisher = RedisJobEventPublisher(event_fanout)
    outbox_claims = SqlaOutboxClaims(claims_engine, publisher)

    def uow() -> UnitOfWork:
        return SqlaUnitOfWork(session_factory, publisher)

    queue = build_queue(settings.redis_url, settings.queue_name)
    relay_wakeups = RedisRelayWakeups(event_fanout, settings.queue_name, redis)
    dispatcher = LazyAnalysisDispatcher(settings)
    idempotency = PostgresIdempotencyStore(engine)
    inspector = PyAvAudioInspector()
    # One feature configuration for reference features and for the version jobs record (analysis reuse).
    features = VoiceReferenceFeatures()
    live_events = RedisJobEventFeed(event_fanout)
    jobs = UserJobs(uow, live_events, clock)
    stream_tickets = JwtStreamTickets(
        settings.secret_key, clock, timedelta(seconds=settings.stream_ticket_ttl_seconds)
    )
    # The catalog's reference features and forced alignment run in a child process (started on first use).
    reference_audio = ReferenceAudioProcessor()
    catalog_pages = RedisCatalogPages(
        redis, catalog_cache_namespace(settings), settings.catalog_cache_seconds, pipeline=redis_calls
    )
    return Container(
        settings=settings,
        engine=engine,
        claims_engine=claims_engine,
        outbox_claims=outbox_claims,
        redis=redis,
        storage=storage,
        registration=Registration(uow, hasher, clock, ids),
        authentication=Authentication(uow, hasher, access_tokens),
        profiles=Profiles(uow),
        catalog_queries=CatalogQueries(uow, storage),
        catalog_admin=CatalogAdministration(
            uow,
            storage,
            inspector,
            reference_limits,
            clock,
            ids,
            reference_audio,
            reference_audio,
            catalog_pages,
        ),
        bookmarks=Bookmarks(uow, clock),
        readiness=Readiness([PostgresProbe(engine), RedisProbe(redis), StorageProbe(storage)]),
        pipeline=pipeline,
        redis_calls=redis_calls,
        event_fanout=event_fanout,
        queue=queue,
        relay_wakeups=relay_wakeups,
        dispatcher=dispatcher,
        idempotency=idempotency,
        uploads=RecordingUploads(
            uow,
            AsyncpgJobIntake(engine, publisher),
            storage,
            inspector,
            relay_wakeups,
            clock,
            ids,
            pipeline,
            features.version,
        ),
        resumable_uploads=ResumableUploads(uow, storage, clock, ids, pipeline),
        jobs=jobs,
        stream_tickets=JobStreamTickets(jobs, stream_tickets),
        feed=UserFeed(uow, live_events, stream_tickets),
        webhooks=AnalysisWebhooks(uow, clock),
        webhook_verifier=WebhookVerifier(list(settings.analysis_webhook_secrets)),
        relay=OutboxRelay(uow, outbox_claims, storage, dispatcher, clock, pipeline),
        housekeeping=Housekeeping(uow, storage, idempotency, clock, pipeline),
        pipeline_statistics=PipelineStatistics(uow, clock),
        rate_limiter=RedisRateLimiter(redis, pipeline=redis_calls),
        publisher=publisher,
        catalog_pages=catalog_pages,
        reference_audio=reference_audio,
        session_factory=session_factory,
    )


def catalog_cache_namespace(settings: Settings) -> str:
    """Instances share cached pages when they share the database (and the queue name that separates
    deployments on one Redis); another database's catalog is never served."""
    database = hashlib.blake2b(settings.database_url.encode(), digest_size=6).hexdigest()
    return f"{settings.queue_name}:{database}"


def pipeline_settings(settings: Settings) -> PipelineSettings:
    minimum = settings.min_recording_seconds
    return PipelineSettings(
        token_limits=AudioLimits(settings.token_max_bytes, settings.token_max_seconds, minimum),
        script_limits=AudioLimits(settings.script_max_bytes, settings.script_max_seconds, minimum),
        callback_url=settings.callback_url,
        token_deadline=timedelta(seconds=settings.token_deadline_seconds),
        script_deadline=timedelta(seconds=settings.script_deadline_seconds),
        relay_lease=timedelta(seconds=settings.analysis_relay_lease_seconds),
        relay_mark_window=timedelta(seconds=settings.analysis_relay_mark_window_seconds),
        retry=RetryPolicy(max_attempts=settings.analysis_dispatch_max_attempts),
    )
