"""Persistence ports: repositories per aggregate and the unit of work that commits them together."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar
from uuid import UUID

from domain.accounts import User
from domain.analysis.jobs import AnalysisInputs, Job, JobEvent, JobStatus, Recording
from domain.analysis.multipart import MultipartUpload
from domain.analysis.outbox import OutboxMessage
from domain.bookmarks import Bookmark
from domain.catalog import Actor, PracticeItem, ReferenceAudio, ReferenceKind, Word

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class ActorFilter:
    search: str | None = None


@dataclass(frozen=True, slots=True)
class MovieLineFilter:
    actor_id: UUID | None = None
    movie_title: str | None = None
    search: str | None = None


@dataclass(frozen=True, slots=True)
class ScriptFilter:
    title: str | None = None
    search: str | None = None


@dataclass(frozen=True, slots=True)
class BookmarkedItem:
    bookmark: Bookmark
    item: PracticeItem


class UserRepository(Protocol):
    async def add(self, user: User) -> None: ...
    async def get(self, user_id: UUID) -> User | None: ...
    async def get_by_email(self, email: str) -> User | None: ...
    async def save(self, user: User) -> None: ...


class ActorRepository(Protocol):
    async def add(self, actor: Actor) -> None: ...
    async def get(self, actor_id: UUID) -> Actor | None: ...
    async def save(self, actor: Actor) -> None: ...
    async def delete(self, actor_id: UUID) -> None: ...
    async def has_movie_lines(self, actor_id: UUID) -> bool: ...
    async def list(self, filters: ActorFilter, page: PageRequest) -> Page[Actor]: ...


class PracticeItemRepository(Protocol):
    """Movie lines and scripts: any item loads by id, with its words and detail (a line's actor)."""

    async def add(self, item: PracticeItem) -> None: ...
    async def get(self, item_id: UUID) -> PracticeItem | None: ...

    async def reference_state(self, item_id: UUID) -> tuple[ReferenceKind, bool] | None:
        """The item's kind and whether its reference audio is stored, without loading the item (the
        upload path asks this of every upload); None when there is no such item."""
        ...

    async def save(self, item: PracticeItem) -> None: ...
    async def delete(self, item_id: UUID) -> None: ...

    async def list_movie_lines(self, filters: MovieLineFilter, page: PageRequest) -> Page[PracticeItem]:
        """Newest first, with words."""
        ...

    async def list_scripts(self, filters: ScriptFilter, page: PageRequest) -> Page[PracticeItem]:
        """By title, without words."""
        ...


class BookmarkRepository(Protocol):
    async def add(self, bookmark: Bookmark) -> bool:
        """Store the bookmark; False when the user had bookmarked that item already."""
        ...

    async def remove(self, user_id: UUID, item_id: UUID) -> bool: ...
    async def list_for_user(self, user_id: UUID) -> list[BookmarkedItem]: ...


@dataclass(frozen=True, slots=True)
class JobFilter:
    kind: ReferenceKind | None = None
    status: JobStatus | None = None


@dataclass(frozen=True, slots=True)
class JobStats:
    count: int
    completed: int
    average_overall: float | None
    best_overall: float | None


@dataclass(frozen=True, slots=True)
class JobStreamHead:
    """What an event stream needs to know of a job: whose it is, whether it is finished, and the
    sequence of its newest event (0: none yet)."""

    user_id: UUID
    status: JobStatus
    last_sequence: int


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    unsent: int
    oldest_created_at: datetime | None


@dataclass(frozen=True, slots=True)
class DispatchJob:
    """What an analysis request takes from the job."""

    kind: ReferenceKind
    status: JobStatus
    recording: Recording | None


@dataclass(frozen=True, slots=True)
class DispatchReference:
    """What an analysis request takes from the job's practice item."""

    audio: ReferenceAudio
    text: str
    words: list[Word]
    feature_config_version: str | None


@dataclass(frozen=True, slots=True)
class ClaimedDispatch:
    """A leased outbox row with what its analysis request needs. ``job`` is None when the job is gone,
    ``reference`` when the job has no practice item any more or the item has no reference audio."""

    message: OutboxMessage
    job: DispatchJob | None
    reference: DispatchReference | None


class JobRepository(Protocol):
    async def add(self, job: Job) -> None:
        """Insert the job; the unit of work stores and publishes its new events when it commits."""
        ...

    async def get(self, job_id: UUID) -> Job | None: ...

    async def get_for_update(self, job_id: UUID) -> Job | None:
        """Load and lock the job until the transaction ends, so state changes apply one at a time."""
        ...

    async def save(self, job: Job) -> None:
        """Write the job's state; the unit of work stores and publishes its new events when it commits."""
        ...

    async def get_many_for_update(self, job_ids: Collection[UUID]) -> list[Job]:
        """Load and lock the jobs, in id order (two transactions cannot deadlock on them), in one
        query; unknown ids are left out."""
        ...

    async def save_many(self, jobs: list[Job]) -> None:
        """``save`` for each job, written together."""
        ...

    async def find_reusable(
        self, user_id: UUID, kind: ReferenceKind, item_id: UUID, inputs: AnalysisInputs
    ) -> Job | None:
        """The user's latest completed job of this item analysed from exactly these inputs, if any."""
        ...

    async def list_for_user(self, user_id: UUID, filters: JobFilter, page: PageRequest) -> Page[Job]: ...
    async def stats_for_user(self, user_id: UUID) -> JobStats: ...
    async def overdue(self, now: datetime, limit: int) -> list[UUID]: ...
    async def existing(self, job_ids: list[UUID]) -> set[UUID]: ...

    async def count_by_kind_and_status(self) -> dict[tuple[ReferenceKind, JobStatus], int]:
        """How many jobs there are of each kind in each status (combinations with none are left out)."""
        ...


class JobEventRepository(Protocol):
    async def list_after(self, job_id: UUID, after_sequence: int, limit: int = 1000) -> list[JobEvent]: ...

    async def stream_heads(self, job_ids: Collection[UUID]) -> dict[UUID, JobStreamHead]:
        """Each job's owner, status and newest sequence, in one query; unknown ids are left out."""
        ...

    async def list_after_many(
        self, positions: Collection[tuple[UUID, int]], limit: int
    ) -> dict[tuple[UUID, int], list[JobEvent]]:
        """For each ``(job_id, after_sequence)``, that job's events after it (at most ``limit``, oldest
        first), in one query; a position with none is left out."""
        ...

    async def list_for_user_after(self, user_id: UUID, after: int, limit: int = 1000) -> list[JobEvent]:
        """The user's events (of all their jobs) whose ``feed_sequence`` is past ``after``, in order."""
        ...

    async def last_feed_sequence(self, user_id: UUID) -> int:
        """The place of the user's newest event in their feed; 0 before their first."""
        ...


class OutboxRepository(Protocol):
    async def add(self, message: OutboxMessage) -> None: ...
    async def get(self, message_id: UUID) -> OutboxMessage | None: ...

    async def get_for_update(self, message_id: UUID) -> OutboxMessage | None:
        """Load and lock the row until the transaction ends, so two relays cannot both settle it."""
        ...

    async def claim(self, message_id: UUID, now: datetime, lease: timedelta) -> OutboxMessage | None:
        """Lease one unsent, due row (skipping rows locked by others); count the attempt."""
        ...

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[OutboxMessage]: ...

    async def mark_sent(self, last_errors: Mapping[UUID, str | None], now: datetime) -> dict[UUID, UUID]:
        """Mark the rows of ``last_errors`` that are still unsent as sent at ``now``, each with its
        ``last_error``, locking them in id order; answer the job id of each row marked."""
        ...

    async def save(self, message: OutboxMessage) -> None: ...
    async def prune_sent(self, sent_before: datetime) -> int: ...
    async def backlog(self) -> OutboxBacklog: ...


class OutboxClaims(Protocol):
    """The relay's claim, outside any unit of work: it commits on its own."""

    async def claim_for_dispatch(
        self, now: datetime, lease: timedelta, limit: int, message_id: UUID | None = None
    ) -> list[ClaimedDispatch]:
        """Lease up to ``limit`` unsent, due rows (only ``message_id`` when given), oldest first,
        skipping rows locked by others; count each attempt; answer each with what its request needs.
        One statement, committed by itself."""
        ...

    async def mark_dispatched(
        self,
        last_errors: Mapping[UUID, str | None],
        dispatched: Collection[UUID],
        now: datetime,
        deadlines: Mapping[ReferenceKind, timedelta],
    ) -> None:
        """Mark the rows of ``last_errors`` (row id -> its last error) that are still unsent as sent at
        ``now``, rows locked in id order. The jobs of those rows whose ids are in ``dispatched`` are
        recorded as ``Job.mark_dispatched(now, deadlines[job.kind])`` does: a queued job becomes
        dispatched with its ``dispatched`` event (numbered in the job and in its owner's feed), a
        processing one keeps the sooner deadline, any other is left alone; jobs locked in id order.
        One statement, committed by itself; the new events are published after it."""
        ...


class InboxRepository(Protocol):
    async def record(self, webhook_id: str, job_id: UUID, event_type: str, received_at: datetime) -> bool:
        """Remember a webhook delivery; False when this webhook-id was seen before."""
        ...

    async def prune(self, received_before: datetime) -> int: ...


class MultipartUploadRepository(Protocol):
    async def add(self, upload: MultipartUpload) -> None: ...
    async def get(self, job_id: UUID) -> MultipartUpload | None: ...
    async def get_for_update(self, job_id: UUID) -> MultipartUpload | None: ...
    async def save(self, upload: MultipartUpload) -> None: ...
    async def remove(self, job_id: UUID) -> None: ...

    async def of_finished_jobs(self, limit: int) -> list[MultipartUpload]:
        """Uploads whose job is completed, failed or cancelled: nothing will use them any more."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without ``commit()`` rolls back.

    Job events leave here and nowhere else: ``commit()`` stores the new events of the jobs added or
    saved in the transaction, commits, then publishes them to live streams (a publish that fails is
    logged; streams catch up from the stored events)."""

    @property
    def users(self) -> UserRepository: ...
    @property
    def actors(self) -> ActorRepository: ...
    @property
    def items(self) -> PracticeItemRepository: ...
    @property
    def bookmarks(self) -> BookmarkRepository: ...
    @property
    def jobs(self) -> JobRepository: ...
    @property
    def job_events(self) -> JobEventRepository: ...
    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def inbox(self) -> InboxRepository: ...
    @property
    def multipart_uploads(self) -> MultipartUploadRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Raise ``ConflictError`` when a uniqueness rule is broken by a concurrent writer."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
