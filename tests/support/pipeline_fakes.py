"""In-memory fakes of the analysis pipeline's ports: jobs and their events, outbox, inbox, publisher,
dispatcher, relay queue and idempotency store. They satisfy the Protocols without inheriting them."""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from uuid import UUID

from application.ports.analysis import AnalysisRequest, DispatchError
from application.ports.idempotency import KeyClaim, StoredResponse
from application.ports.persistence import (
    ClaimedDispatch,
    DispatchJob,
    DispatchReference,
    JobFilter,
    JobStats,
    JobStreamHead,
    OutboxBacklog,
    Page,
    PageRequest,
)
from domain.analysis.jobs import AnalysisInputs, Job, JobEvent, JobStatus
from domain.analysis.outbox import OutboxMessage
from domain.catalog import PracticeItem, ReferenceKind
from domain.errors import ConflictError


@dataclass(frozen=True, slots=True)
class InboxEntry:
    job_id: UUID
    event_type: str
    received_at: datetime


@dataclass
class PipelineTables:
    jobs: dict[UUID, Job] = field(default_factory=dict)
    events: list[JobEvent] = field(default_factory=list)
    outbox: dict[UUID, OutboxMessage] = field(default_factory=dict)
    inbox: dict[str, InboxEntry] = field(default_factory=dict)

    def events_of(self, job_id: UUID) -> list[JobEvent]:
        return sorted((e for e in self.events if e.job_id == job_id), key=lambda e: e.sequence)


def _stored(job: Job) -> Job:
    """What a row holds: the job's state, not the events it has yet to hand over."""
    row = copy.deepcopy(job)
    row.pending_events = []
    return row


class InMemoryJobs:
    """Remembers the jobs added or saved (``seen``), as the Postgres repository does for its unit of work."""

    def __init__(self, tables: PipelineTables) -> None:
        self._t = tables
        self.seen: list[Job] = []

    def _remember(self, job: Job) -> None:
        if all(job is not other for other in self.seen):
            self.seen.append(job)

    async def add(self, job: Job) -> None:
        if job.id in self._t.jobs:
            raise ConflictError("duplicate job id")
        self._t.jobs[job.id] = _stored(job)
        self._remember(job)

    async def get(self, job_id: UUID) -> Job | None:
        found = self._t.jobs.get(job_id)
        return copy.deepcopy(found) if found else None

    async def get_for_update(self, job_id: UUID) -> Job | None:
        return await self.get(job_id)

    async def save(self, job: Job) -> None:
        self._t.jobs[job.id] = _stored(job)
        self._remember(job)

    async def get_many_for_update(self, job_ids: Collection[UUID]) -> list[Job]:
        return [copy.deepcopy(self._t.jobs[job_id]) for job_id in sorted(job_ids) if job_id in self._t.jobs]

    async def save_many(self, jobs: list[Job]) -> None:
        for job in jobs:
            await self.save(job)

    async def find_reusable(
        self, user_id: UUID, kind: ReferenceKind, item_id: UUID, inputs: AnalysisInputs
    ) -> Job | None:
        matches = [
            j
            for j in self._t.jobs.values()
            if (j.user_id, j.kind, j.item_id, j.status, j.inputs)
            == (user_id, kind, item_id, JobStatus.COMPLETED, inputs)
        ]
        return copy.deepcopy(max(matches, key=lambda j: j.created_at)) if matches else None

    async def list_for_user(self, user_id: UUID, filters: JobFilter, page: PageRequest) -> Page[Job]:
        jobs = [
            copy.deepcopy(j)
            for j in sorted(self._t.jobs.values(), key=lambda j: j.created_at, reverse=True)
            if j.user_id == user_id and filters.kind in (None, j.kind) and filters.status in (None, j.status)
        ]
        return Page(jobs[page.offset : page.offset + page.limit], len(jobs), page.limit, page.offset)

    async def stats_for_user(self, user_id: UUID) -> JobStats:
        jobs = [j for j in self._t.jobs.values() if j.user_id == user_id]
        scores = [j.result.overall for j in jobs if j.result is not None]
        return JobStats(
            count=len(jobs),
            completed=sum(j.status is JobStatus.COMPLETED for j in jobs),
            average_overall=sum(scores) / len(scores) if scores else None,
            best_overall=max(scores) if scores else None,
        )

    async def overdue(self, now: datetime, limit: int) -> list[UUID]:
        due = [
            j
            for j in self._t.jobs.values()
            if not j.status.is_terminal and j.deadline_at is not None and j.deadline_at <= now
        ]
        return [j.id for j in sorted(due, key=lambda j: j.deadline_at or now)[:limit]]

    async def existing(self, job_ids: list[UUID]) -> set[UUID]:
        return {job_id for job_id in job_ids if job_id in self._t.jobs}

    async def count_by_kind_and_status(self) -> dict[tuple[ReferenceKind, JobStatus], int]:
        counts: dict[tuple[ReferenceKind, JobStatus], int] = {}
        for job in self._t.jobs.values():
            counts[(job.kind, job.status)] = counts.get((job.kind, job.status), 0) + 1
        return counts


class InMemoryJobEvents:
    def __init__(self, tables: PipelineTables) -> None:
        self._t = tables

    async def list_after(self, job_id: UUID, after_sequence: int, limit: int = 1000) -> list[JobEvent]:
        return [e for e in self._t.events_of(job_id) if e.sequence > after_sequence][:limit]

    async def stream_heads(self, job_ids: Collection[UUID]) -> dict[UUID, JobStreamHead]:
        return {
            job_id: JobStreamHead(job.user_id, job.status, job.last_sequence)
            for job_id in job_ids
            if (job := self._t.jobs.get(job_id)) is not None
        }

    async def list_after_many(
        self, positions: Collection[tuple[UUID, int]], limit: int
    ) -> dict[tuple[UUID, int], list[JobEvent]]:
        found = {(job_id, after): await self.list_after(job_id, after, limit) for job_id, after in positions}
        return {position: events for position, events in found.items() if events}

    async def list_for_user_after(self, user_id: UUID, after: int, limit: int = 1000) -> list[JobEvent]:
        mine = [e for e in self._t.events if e.user_id == user_id and (e.feed_sequence or 0) > after]
        return sorted(mine, key=lambda e: e.feed_sequence or 0)[:limit]

    async def last_feed_sequence(self, user_id: UUID) -> int:
        return max((e.feed_sequence or 0 for e in self._t.events if e.user_id == user_id), default=0)

    async def append(self, events: list[JobEvent]) -> list[JobEvent]:
        stored = {(e.job_id, e.sequence) for e in self._t.events}
        if any((e.job_id, e.sequence) in stored for e in events):
            raise ConflictError("duplicate event sequence")
        numbered = []
        for event in events:
            place = 1 + max(
                (e.feed_sequence or 0 for e in self._t.events if e.user_id == event.user_id), default=0
            )
            numbered.append(replace(event, feed_sequence=place))
            self._t.events.append(numbered[-1])
        return numbered


class InMemoryOutbox:
    """Leases like the Postgres claim: a claimed row counts an attempt and is not due again until the
    lease runs out. ``items`` are the practice items a claim for dispatch reads (none: every job's item
    is gone)."""

    def __init__(self, tables: PipelineTables, items: Mapping[UUID, PracticeItem] | None = None) -> None:
        self._t = tables
        self._items = items if items is not None else {}

    async def add(self, message: OutboxMessage) -> None:
        stored = copy.copy(message)
        stored.next_attempt_at = message.next_attempt_at or message.created_at
        self._t.outbox[message.id] = stored

    async def get(self, message_id: UUID) -> OutboxMessage | None:
        found = self._t.outbox.get(message_id)
        return copy.copy(found) if found else None

    async def get_for_update(self, message_id: UUID) -> OutboxMessage | None:
        return await self.get(message_id)

    async def claim(self, message_id: UUID, now: datetime, lease: timedelta) -> OutboxMessage | None:
        return next(iter(self._claim(now, lease, 1, message_id)), None)

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[OutboxMessage]:
        return self._claim(now, lease, limit)

    def _claim(
        self, now: datetime, lease: timedelta, limit: int, only: UUID | None = None
    ) -> list[OutboxMessage]:
        due = sorted(
            (
                m
                for m in self._t.outbox.values()
                if m.sent_at is None
                and m.next_attempt_at is not None
                and m.next_attempt_at <= now
                and only in (None, m.id)
            ),
            key=lambda m: m.next_attempt_at or now,
        )[:limit]
        for message in due:
            message.attempts += 1
            message.next_attempt_at = now + lease
        return [copy.copy(m) for m in due]

    async def claim_for_dispatch(
        self, now: datetime, lease: timedelta, limit: int, message_id: UUID | None = None
    ) -> list[ClaimedDispatch]:
        return [self._with_request_data(message) for message in self._claim(now, lease, limit, message_id)]

    def _with_request_data(self, message: OutboxMessage) -> ClaimedDispatch:
        job = self._t.jobs.get(message.job_id)
        item = self._items.get(job.item_id) if job is not None and job.item_id is not None else None
        reference = None
        if item is not None and item.reference_audio is not None:
            reference = DispatchReference(
                copy.deepcopy(item.reference_audio),
                item.text,
                copy.deepcopy(item.words),
                item.feature_config_version,
            )
        dispatch_job = DispatchJob(job.kind, job.status, job.recording) if job is not None else None
        return ClaimedDispatch(message, dispatch_job, reference)

    async def mark_sent(self, last_errors: Mapping[UUID, str | None], now: datetime) -> dict[UUID, UUID]:
        marked = {}
        for message_id in sorted(last_errors):
            stored = self._t.outbox.get(message_id)
            if stored is None or stored.sent_at is not None:
                continue
            stored.sent_at, stored.last_error = now, last_errors[message_id]
            marked[message_id] = stored.job_id
        return marked

    async def save(self, message: OutboxMessage) -> None:
        if message.id in self._t.outbox:
            self._t.outbox[message.id] = copy.copy(message)

    async def prune_sent(self, sent_before: datetime) -> int:
        pruned = [m.id for m in self._t.outbox.values() if m.sent_at is not None and m.sent_at < sent_before]
        for message_id in pruned:
            del self._t.outbox[message_id]
        return len(pruned)

    async def backlog(self) -> OutboxBacklog:
        unsent = [m for m in self._t.outbox.values() if m.sent_at is None]
        return OutboxBacklog(len(unsent), min((m.created_at for m in unsent), default=None))


class InMemoryInbox:
    def __init__(self, tables: PipelineTables) -> None:
        self._t = tables

    async def record(self, webhook_id: str, job_id: UUID, event_type: str, received_at: datetime) -> bool:
        if webhook_id in self._t.inbox:
            return False
        self._t.inbox[webhook_id] = InboxEntry(job_id, event_type, received_at)
        return True

    async def prune(self, received_before: datetime) -> int:
        old = [
            webhook_id for webhook_id, entry in self._t.inbox.items() if entry.received_at < received_before
        ]
        for webhook_id in old:
            del self._t.inbox[webhook_id]
        return len(old)


class RecordingPublisher:
    """Keeps every published batch; ``fail`` makes publishing raise, as a Redis outage would."""

    def __init__(self) -> None:
        self.batches: list[list[JobEvent]] = []
        self.fail = False

    async def publish(self, events: list[JobEvent]) -> None:
        if self.fail:
            raise ConnectionError("publisher down")
        self.batches.append(list(events))

    @property
    def events(self) -> list[JobEvent]:
        return [event for batch in self.batches for event in batch]


class ScriptedDispatcher:
    """Answers each dispatch with the next scripted outcome (None accepts); accepts once the script ends."""

    def __init__(self, *outcomes: DispatchError | None) -> None:
        self.outcomes = list(outcomes)
        self.requests: list[AnalysisRequest] = []

    async def dispatch(self, request: AnalysisRequest) -> None:
        self.requests.append(request)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome


class RecordingRelayQueue:
    def __init__(self) -> None:
        self.enqueued: list[UUID] = []
        self.fail = False

    async def enqueue_relay(self, outbox_id: UUID) -> None:
        if self.fail:
            raise ConnectionError("queue down")
        self.enqueued.append(outbox_id)


class PruningIdempotencyStore:
    """Only the part housekeeping uses: remembers when it was asked to prune."""

    def __init__(self, expired: int = 0) -> None:
        self.expired = expired
        self.pruned_at: list[datetime] = []

    async def claim(self, scope: str, key: str, fingerprint: str, now: datetime, ttl: timedelta) -> KeyClaim:
        raise NotImplementedError

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        raise NotImplementedError

    async def release(self, scope: str, key: str) -> None:
        raise NotImplementedError

    async def prune(self, now: datetime) -> int:
        self.pruned_at.append(now)
        return self.expired
