"""A catalog, a user and the pipeline's fakes on a clock that moves only when a test moves it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from tests.support.pipeline_fakes import PipelineTables, RecordingPublisher, RecordingRelayQueue
from tests.unit.application.fakes import (
    FakeDatabase,
    FakeInspector,
    FakeJobIntake,
    FixedClock,
    InMemoryStorage,
    SequentialIds,
)

from application.analysis.settings import PipelineSettings
from application.analysis.uploads import RecordingUploads
from domain.accounts import Principal, Role
from domain.analysis.jobs import EventType, Job, Recording
from domain.analysis.outbox import OutboxMessage, RetryPolicy
from domain.catalog import Actor, MovieLine, PracticeItem, ReferenceAudio, ReferenceKind, ScriptDetail, Word

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OWNER = Principal(UUID(int=1 << 100), Role.USER)
SETTINGS = PipelineSettings(
    relay_lease=timedelta(seconds=30),
    retry=RetryPolicy(max_attempts=3, base_delay=timedelta(seconds=1), max_delay=timedelta(seconds=4)),
)


@dataclass
class World:
    database: FakeDatabase = field(default_factory=FakeDatabase)
    clock: FixedClock = field(default_factory=lambda: FixedClock(NOW, tick=timedelta(0)))
    storage: InMemoryStorage = field(default_factory=InMemoryStorage)
    ids: SequentialIds = field(default_factory=SequentialIds)
    settings: PipelineSettings = SETTINGS

    def __post_init__(self) -> None:
        self.intake = FakeJobIntake(self.database)

    @property
    def tables(self) -> PipelineTables:
        return self.database.tables.pipeline

    @property
    def publisher(self) -> RecordingPublisher:
        return self.database.publisher

    def add_token(self, reference: bool = True) -> UUID:
        actor = Actor(self.ids.new_id(), "Meryl Streep", "", NOW)
        item = PracticeItem(self.ids.new_id(), MovieLine(actor, "Film"), "Hello there", NOW)
        if reference:
            item.reference_audio = ReferenceAudio(f"references/{item.id}.wav", "audio/wav", 1.0)
        self.database.tables.actors[actor.id] = actor
        self.database.tables.items[item.id] = item
        return item.id

    def add_script(self) -> UUID:
        words = [Word(0, "hello", 0.0, 0.4, {"mfcc": [[1.0]]}), Word(1, "world", 0.5, 0.9)]
        item = PracticeItem(
            self.ids.new_id(),
            ScriptDetail("Greeting"),
            "hello world",
            NOW,
            words,
            feature_config_version="f/1",
        )
        item.reference_audio = ReferenceAudio(f"references/{item.id}.wav", "audio/wav", 1.0)
        self.database.tables.items[item.id] = item
        return item.id

    async def queue_job(
        self,
        item_id: UUID | None = None,
        due: datetime | None = None,
        kind: ReferenceKind = ReferenceKind.TOKEN,
    ) -> tuple[UUID, UUID]:
        """A queued job and its outbox row, committed together as an upload does; (job id, outbox id)."""
        job_id = self.ids.new_id()
        recording = Recording(f"recordings/{job_id}.wav", "audio/wav", 1.0, 100)
        job = Job.create(
            job_id,
            OWNER.user_id,
            kind,
            item_id or self.add_token(),
            NOW,
            recording,
            deadline=timedelta(hours=1),
        )
        message = OutboxMessage(self.ids.new_id(), job_id, NOW, next_attempt_at=due)
        async with self.database() as uow:
            await uow.jobs.add(job)
            await uow.outbox.add(message)
            await uow.commit()
        return job_id, message.id

    def uploads(self, queue: RecordingRelayQueue, feature_version: str = "features/1") -> RecordingUploads:
        """The upload use case on this world's fakes, with ``queue`` for the relay's fast path."""
        return RecordingUploads(
            self.database,
            self.intake,
            self.storage,
            FakeInspector(),
            queue,
            self.clock,
            self.ids,
            self.settings,
            feature_version,
        )

    async def change_job(self, job_id: UUID, change: Callable[[Job], object]) -> None:
        async with self.database() as uow:
            job = await uow.jobs.get_for_update(job_id)
            assert job is not None
            change(job)
            await uow.jobs.save(job)
            await uow.commit()

    def job(self, job_id: UUID) -> Job:
        return self.tables.jobs[job_id]

    def message(self, message_id: UUID) -> OutboxMessage:
        return self.tables.outbox[message_id]

    def stored_events(self, job_id: UUID) -> list[EventType]:
        return [event.type for event in self.tables.events_of(job_id)]

    def published(self, job_id: UUID) -> list[EventType]:
        return [event.type for event in self.publisher.events if event.job_id == job_id]
