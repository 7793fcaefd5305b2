"""Postgres repositories of the analysis pipeline: jobs, their events, the outbox and the inbox."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

import asyncpg
from sqlalchemy import (
    Integer,
    Select,
    Table,
    Text,
    Update,
    and_,
    any_,
    bindparam,
    case,
    column,
    delete,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import ARRAY, JSON, aggregate_order_by, insert
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import aliased

from adapters.persistence.connections import HeldConnections
from adapters.persistence.dispatch_marks import mark_dispatched
from adapters.persistence.lease_holders import HELD, ORPHANED, LeaseHolder
from adapters.persistence.mappers import reference_audio_from_row
from adapters.persistence.models import (
    JobEventRow,
    JobRow,
    JobWordResultRow,
    OutboxRow,
    PracticeItemRow,
    UserEventCounterRow,
    WebhookInboxRow,
    WordRow,
)
from application.ports.analysis import JobEventPublisher
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
from domain.analysis.jobs import AnalysisInputs, EventType, Job, JobEvent, JobStatus, Recording
from domain.analysis.outbox import OutboxMessage
from domain.analysis.results import AnalysisResult, WordResult, WordStatus
from domain.catalog import ReferenceKind, Word

_UUID_ARRAY = ARRAY(PG_UUID(as_uuid=True))
LIVE_STATUSES = ("awaiting_upload", "queued", "dispatched", "processing")


def result_to_json(result: AnalysisResult) -> dict[str, Any]:
    """The result without its words, which live in job_word_results."""
    return {
        "overall": result.overall,
        "scores": result.scores,
        "metrics": result.metrics,
        "contours": result.contours,
    }


def result_from_json(data: dict[str, Any], words: list[WordResult]) -> AnalysisResult:
    return AnalysisResult(
        overall=data["overall"],
        scores=data["scores"],
        words=words,
        metrics=data.get("metrics", {}),
        contours=data.get("contours", {}),
    )


def _word_from_row(row: JobWordResultRow) -> WordResult:
    return WordResult(row.index, row.text, row.start, row.end, row.score, WordStatus(row.status))


def _recording_from_row(row: Any) -> Recording | None:
    """The recording columns of a job row (an ORM row or a Core row with the same names)."""
    if not row.recording_key:
        return None
    return Recording(
        row.recording_key,
        row.recording_content_type or "application/octet-stream",
        row.recording_duration or 0.0,
        row.recording_size or 0,
    )


def _job_from_row(row: JobRow, words: list[WordResult] | None = None) -> Job:
    recording = _recording_from_row(row)
    return Job(
        id=row.id,
        user_id=row.user_id,
        kind=ReferenceKind(row.kind),
        item_id=row.item_id,
        status=JobStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        recording=recording,
        progress=row.progress,
        stage=row.stage,
        failure_code=row.failure_code,
        failure_reason=row.failure_reason,
        result=result_from_json(row.result, words or []) if row.result else None,
        deadline_at=row.deadline_at,
        last_sequence=row.last_sequence,
        inputs=AnalysisInputs(row.recording_sha256, row.reference_version, row.feature_version)
        if row.recording_sha256 and row.reference_version and row.feature_version
        else None,
        reused_from=row.reused_from,
    )


def _write_job(job: Job, row: JobRow) -> None:
    row.status = job.status.value
    row.recording_key = job.recording.key if job.recording else None
    row.recording_content_type = job.recording.content_type if job.recording else None
    row.recording_duration = job.recording.duration_seconds if job.recording else None
    row.recording_size = job.recording.size if job.recording else None
    row.progress, row.stage = job.progress, job.stage
    row.failure_code, row.failure_reason = job.failure_code, job.failure_reason
    row.result = result_to_json(job.result) if job.result else None
    row.overall_score = job.result.overall if job.result else None
    row.deadline_at = job.deadline_at
    row.last_sequence = job.last_sequence
    row.updated_at = job.updated_at
    inputs = job.inputs
    row.recording_sha256 = inputs.recording_sha256 if inputs else None
    row.reference_version = inputs.reference_version if inputs else None
    row.feature_version = inputs.feature_version if inputs else None
    row.reused_from = job.reused_from


def _event_from_row(row: JobEventRow) -> JobEvent:
    return JobEvent(
        row.job_id,
        row.sequence,
        EventType(row.type),
        row.data,
        row.created_at,
        row.user_id,
        row.feed_sequence,
    )


class SqlaJobRepository:
    """Remembers the jobs it added or saved (``seen``): the unit of work stores and publishes their
    new events when it commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.seen: list[Job] = []

    def _remember(self, job: Job) -> None:
        if all(job is not other for other in self.seen):
            self.seen.append(job)

    async def add(self, job: Job) -> None:
        row = JobRow(
            id=job.id,
            user_id=job.user_id,
            kind=job.kind.value,
            item_id=job.item_id,
            created_at=job.created_at,
        )
        _write_job(job, row)
        self._session.add(row)
        await self._session.flush()
        self._remember(job)

    async def get(self, job_id: UUID) -> Job | None:
        row = await self._session.get(JobRow, job_id)
        return await self._with_words(row) if row else None

    async def get_for_update(self, job_id: UUID) -> Job | None:
        row = await self._session.scalar(
            select(JobRow)
            .where(JobRow.id == job_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return await self._with_words(row) if row else None

    async def get_many_for_update(self, job_ids: Collection[UUID]) -> list[Job]:
        if not job_ids:
            return []
        rows = await self._session.scalars(
            select(JobRow)
            .where(JobRow.id.in_(list(job_ids)))
            .order_by(JobRow.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return [await self._with_words(row) for row in rows]

    async def save_many(self, jobs: list[Job]) -> None:
        """Rows already in the session (loaded for update) are written by one flush."""
        for job in jobs:
            if job.result is not None:  # a result's words need their own rows: the one-job path
                await self.save(job)
                continue
            _write_job(job, await self._session.get_one(JobRow, job.id))
            self._remember(job)
        await self._session.flush()

    async def save(self, job: Job) -> None:
        row = await self._session.get_one(JobRow, job.id)
        newly_completed = row.result is None and job.result is not None
        _write_job(job, row)
        await self._session.flush()
        if newly_completed and job.result is not None and job.result.words:
            await self._session.execute(
                insert(JobWordResultRow),
                [
                    {"job_id": job.id, "index": w.index, "text": w.text, "start": w.start, "end": w.end,
                     "score": w.score, "status": w.status.value}
                    for w in job.result.words
                ],
            )  # fmt: skip
        self._remember(job)

    async def _with_words(self, row: JobRow) -> Job:
        words: list[WordResult] = []
        if row.result is not None:
            word_rows = await self._session.scalars(
                select(JobWordResultRow)
                .where(JobWordResultRow.job_id == row.id)
                .order_by(JobWordResultRow.index)
            )
            words = [_word_from_row(w) for w in word_rows]
        return _job_from_row(row, words)

    async def find_reusable(
        self, user_id: UUID, kind: ReferenceKind, item_id: UUID, inputs: AnalysisInputs
    ) -> Job | None:
        row = await self._session.scalar(
            select(JobRow)
            .where(
                JobRow.user_id == user_id,
                JobRow.item_id == item_id,
                JobRow.kind == kind.value,
                JobRow.status == JobStatus.COMPLETED.value,
                JobRow.recording_sha256 == inputs.recording_sha256,
                JobRow.reference_version == inputs.reference_version,
                JobRow.feature_version == inputs.feature_version,
            )
            .order_by(JobRow.created_at.desc())
            .limit(1)
        )
        return await self._with_words(row) if row else None

    async def list_for_user(self, user_id: UUID, filters: JobFilter, page: PageRequest) -> Page[Job]:
        query = select(JobRow).where(JobRow.user_id == user_id)
        if filters.kind is not None:
            query = query.where(JobRow.kind == filters.kind.value)
        if filters.status is not None:
            query = query.where(JobRow.status == filters.status.value)
        total = await self._session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self._session.scalars(
            query.order_by(JobRow.created_at.desc(), JobRow.id.desc()).limit(page.limit).offset(page.offset)
        )
        return Page([_job_from_row(r) for r in rows], int(total or 0), page.limit, page.offset)

    async def stats_for_user(self, user_id: UUID) -> JobStats:
        row = (
            await self._session.execute(
                select(
                    func.count(),
                    func.count().filter(JobRow.status == JobStatus.COMPLETED.value),
                    func.avg(JobRow.overall_score),
                    func.max(JobRow.overall_score),
                ).where(JobRow.user_id == user_id)
            )
        ).one()
        average = float(row[2]) if row[2] is not None else None
        best = float(row[3]) if row[3] is not None else None
        return JobStats(count=int(row[0]), completed=int(row[1]), average_overall=average, best_overall=best)

    async def overdue(self, now: datetime, limit: int) -> list[UUID]:
        rows = await self._session.scalars(
            select(JobRow.id)
            .where(JobRow.status.in_(LIVE_STATUSES), JobRow.deadline_at <= now)
            .order_by(JobRow.deadline_at)
            .limit(limit)
        )
        return list(rows)

    async def existing(self, job_ids: list[UUID]) -> set[UUID]:
        if not job_ids:
            return set()
        return set(await self._session.scalars(select(JobRow.id).where(JobRow.id.in_(job_ids))))

    async def count_by_kind_and_status(self) -> dict[tuple[ReferenceKind, JobStatus], int]:
        rows = await self._session.execute(
            select(JobRow.kind, JobRow.status, func.count()).group_by(JobRow.kind, JobRow.status)
        )
        return {(ReferenceKind(kind), JobStatus(status)): int(count) for kind, status, count in rows}


# Places in the owners' feeds: each given count added to its user's counter (created at 0), answering
# the user's new last place. The one definition of the numbering, used by a unit of work's commit (below)
# and by the upload's one statement (a CTE of job_intake.ACCEPT_SQL). ``{given}`` is a query of
# (user id, count) rows in user id order, so two transactions never lock two counters in opposite orders.
FEED_PLACES_SQL = """INSERT INTO user_event_counters AS c (user_id, last_sequence)
    {given}
    ON CONFLICT (user_id) DO UPDATE SET last_sequence = c.last_sequence + excluded.last_sequence
    RETURNING c.user_id, c.last_sequence"""

# One text whatever the number of users (a multi-row VALUES was built and compiled per call).
_TAKE_FEED_PLACES = sql_text(
    FEED_PLACES_SQL.format(
        given="SELECT given.user_id, given.count"
        " FROM unnest(CAST(:users AS uuid[]), CAST(:counts AS bigint[])) AS given(user_id, count)"
        " ORDER BY given.user_id"
    )
)


def _list_after_many_statement() -> Select[Any]:
    """Events after each ``(job_ids[i], afters[i])``, at most ``page`` a position, oldest first: one
    index range scan a position (a LATERAL join), whatever the number of positions; the statement's text
    is the same for any number, so asyncpg prepares it once per connection."""
    positions = (
        func.unnest(bindparam("job_ids", type_=_UUID_ARRAY), bindparam("afters", type_=ARRAY(Integer())))
        .table_valued(column("job_id", PG_UUID(as_uuid=True)), column("after", Integer()))
        .render_derived(name="positions")
    )
    after_each = (
        select(JobEventRow)
        .where(JobEventRow.job_id == positions.c.job_id, JobEventRow.sequence > positions.c.after)
        .order_by(JobEventRow.sequence)
        .limit(bindparam("page"))
        .lateral("after_each")
    )
    event = aliased(JobEventRow, after_each)
    return (
        select(positions.c.after, event)
        .select_from(positions)
        .join(after_each, true())
        .order_by(positions.c.job_id, positions.c.after, event.sequence)
    )


_LIST_AFTER_MANY = _list_after_many_statement()


class SqlaJobEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def list_after(self, job_id: UUID, after_sequence: int, limit: int = 1000) -> list[JobEvent]:
        rows = await self._session.scalars(
            select(JobEventRow)
            .where(JobEventRow.job_id == job_id, JobEventRow.sequence > after_sequence)
            .order_by(JobEventRow.sequence)
            .limit(limit)
        )
        return [_event_from_row(r) for r in rows]

    async def stream_heads(self, job_ids: Collection[UUID]) -> dict[UUID, JobStreamHead]:
        # One array parameter, not an IN list: the statement's text, and so its plan prepared by asyncpg
        # and cached per connection, is the same however many jobs a batch asks for.
        rows = await self._session.execute(
            select(JobRow.id, JobRow.user_id, JobRow.status, JobRow.last_sequence).where(
                JobRow.id == any_(bindparam("job_ids", list(job_ids), type_=_UUID_ARRAY))
            )
        )
        return {row.id: JobStreamHead(row.user_id, JobStatus(row.status), row.last_sequence) for row in rows}

    async def list_after_many(
        self, positions: Collection[tuple[UUID, int]], limit: int
    ) -> dict[tuple[UUID, int], list[JobEvent]]:
        found: dict[tuple[UUID, int], list[JobEvent]] = {}
        if not positions:
            return found
        job_ids, afters = zip(*positions, strict=True)
        rows = await self._session.execute(
            _LIST_AFTER_MANY, {"job_ids": list(job_ids), "afters": list(afters), "page": limit}
        )
        for after, row in rows:
            event = _event_from_row(row)
            found.setdefault((event.job_id, after), []).append(event)
        return found

    async def list_for_user_after(self, user_id: UUID, after: int, limit: int = 1000) -> list[JobEvent]:
        rows = await self._session.scalars(
            select(JobEventRow)
            .where(JobEventRow.user_id == user_id, JobEventRow.feed_sequence > after)
            .order_by(JobEventRow.feed_sequence)
            .limit(limit)
        )
        return [_event_from_row(r) for r in rows]

    async def last_feed_sequence(self, user_id: UUID) -> int:
        last = await self._session.scalar(
            select(UserEventCounterRow.last_sequence).where(UserEventCounterRow.user_id == user_id)
        )
        return int(last or 0)

    async def append(self, events: list[JobEvent]) -> list[JobEvent]:
        if not events:
            return []
        stored = await self._numbered(events)
        await self._session.execute(
            insert(JobEventRow),
            [
                {
                    "job_id": e.job_id,
                    "sequence": e.sequence,
                    "type": e.type.value,
                    "data": e.data,
                    "created_at": e.created_at,
                    "user_id": e.user_id,
                    "feed_sequence": e.feed_sequence,
                }
                for e in stored
            ],
        )
        return stored

    async def _numbered(self, events: list[JobEvent]) -> list[JobEvent]:
        """The events with their places in their owners' feeds, taken from each owner's counter in one
        statement. The counter rows stay locked until the commit, so a user's places become visible in
        order; they are taken in user id order so two transactions cannot deadlock on them."""
        owned: list[tuple[UUID, JobEvent]] = []
        for event in events:
            if event.user_id is None:
                raise ValueError(f"event {event.sequence} of job {event.job_id} has no owner")
            owned.append((event.user_id, event))
        owners: dict[UUID, int] = {}
        for user_id, _ in owned:
            owners[user_id] = owners.get(user_id, 0) + 1
        users = sorted(owners)
        rows = await self._session.execute(
            _TAKE_FEED_PLACES, {"users": users, "counts": [owners[user_id] for user_id in users]}
        )
        last = {user_id: int(top) for user_id, top in rows}
        next_place = {user_id: last[user_id] - count + 1 for user_id, count in owners.items()}
        numbered = []
        for user_id, event in owned:
            numbered.append(replace(event, feed_sequence=next_place[user_id]))
            next_place[user_id] += 1
        return numbered


def _message_from_row(row: Any) -> OutboxMessage:
    """An outbox row: an ORM row, or a Core row with the same column names."""
    return OutboxMessage(
        id=row.id,
        job_id=row.job_id,
        created_at=row.created_at,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        last_error=row.last_error,
        traceparent=row.traceparent,
    )


# The relay's statements use the tables (Core): no ORM entities to load, only the columns needed.
_OUTBOX = cast(Table, OutboxRow.__table__)
_JOBS = cast(Table, JobRow.__table__)
_ITEMS = cast(Table, PracticeItemRow.__table__)
_WORDS = cast(Table, WordRow.__table__)
_CLAIMED_COLUMNS = (
    _OUTBOX.c.id,
    _OUTBOX.c.job_id,
    _OUTBOX.c.created_at,
    _OUTBOX.c.attempts,
    _OUTBOX.c.next_attempt_at,
    _OUTBOX.c.sent_at,
    _OUTBOX.c.last_error,
    _OUTBOX.c.traceparent,
    _OUTBOX.c.leased_by,
)


def _claimed_dispatch(row: Any) -> ClaimedDispatch:
    """A row of the claim: the outbox row's columns, then its job's and its item's (None when gone)."""
    job = None
    if row.found_job_id is not None:
        job = DispatchJob(ReferenceKind(row.kind), JobStatus(row.status), _recording_from_row(row))
    reference = None
    audio = reference_audio_from_row(row)
    if audio is not None:
        reference = DispatchReference(
            audio=audio,
            text=row.text,
            words=[
                Word(w["index"], w["text"], w["start"], w["end"], w["reference_features"])
                for w in row.words or ()
            ],
            feature_config_version=row.feature_config_version,
        )
    return ClaimedDispatch(_message_from_row(row), job, reference)


def _claim_statement(*, one: bool) -> Select[Any]:
    """The UPDATE that leases the rows, joined with their jobs, items and words: one round trip.
    Parameters ``now``, ``lease_end``, ``limit`` and, for ``one``, ``message_id``."""
    now = bindparam("now", type_=_OUTBOX.c.next_attempt_at.type)
    holder = bindparam("holder", type_=Integer())
    extra = (_OUTBOX.c.id == bindparam("message_id", type_=_OUTBOX.c.id.type),) if one else ()
    # Due, or leased by a worker that is gone (its lock released: adapters/persistence/lease_holders.py).
    due_or_orphaned = or_(
        _OUTBOX.c.next_attempt_at <= now,
        and_(_OUTBOX.c.leased_by.is_not(None), _OUTBOX.c.leased_by != holder, sql_text(ORPHANED)),
    )
    due = (
        select(_OUTBOX.c.id)
        .where(_OUTBOX.c.sent_at.is_(None), due_or_orphaned, *extra)
        .order_by(_OUTBOX.c.next_attempt_at)
        .limit(bindparam("limit", type_=Integer()))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claimed = (
        update(_OUTBOX)
        .where(_OUTBOX.c.id.in_(due))
        .values(
            attempts=_OUTBOX.c.attempts + 1,
            next_attempt_at=bindparam("lease_end", type_=_OUTBOX.c.next_attempt_at.type),
            # Recorded only while its lock is held (HELD): else the row keeps the plain lease.
            leased_by=case((sql_text(HELD).bindparams(holder), holder), else_=None),
            updated_at=now,
        )
        .returning(*_CLAIMED_COLUMNS)
        .cte("claimed")
    )
    words = (
        select(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_object(
                        "index", _WORDS.c.index, "text", _WORDS.c.text, "start", _WORDS.c.start,
                        "end", _WORDS.c.end, "reference_features", _WORDS.c.reference_features,
                    ),
                    _WORDS.c.index,
                ),
                type_=JSON,
            )
        )
        .where(_WORDS.c.item_id == _ITEMS.c.id)
        .scalar_subquery()
    )  # fmt: skip
    return (
        select(
            *claimed.c,
            _JOBS.c.id.label("found_job_id"),
            _JOBS.c.kind,
            _JOBS.c.status,
            _JOBS.c.recording_key,
            _JOBS.c.recording_content_type,
            _JOBS.c.recording_duration,
            _JOBS.c.recording_size,
            _ITEMS.c.text,
            _ITEMS.c.reference_audio_key,
            _ITEMS.c.reference_audio_content_type,
            _ITEMS.c.reference_audio_duration,
            _ITEMS.c.feature_config_version,
            words.label("words"),
        )
        .select_from(
            claimed.outerjoin(_JOBS, _JOBS.c.id == claimed.c.job_id).outerjoin(
                _ITEMS, _ITEMS.c.id == _JOBS.c.item_id
            )
        )
        .order_by(claimed.c.created_at, claimed.c.id)
    )


class _DriverStatement:
    """A Core statement compiled once for asyncpg: its text (asyncpg prepares it once per connection)
    and the order of its parameters, so the relay's claim runs on the driver directly. Through
    SQLAlchemy's execute path (compiled-cache lookup, parameter processing, the adapter's cursor,
    result processing) it cost a sixth of the worker's CPU per dispatched job."""

    def __init__(self, statement: Select[Any]) -> None:
        compiled = statement.compile(dialect=postgresql_asyncpg.dialect())  # type: ignore[no-untyped-call]
        self.sql = compiled.string
        self._order = tuple(compiled.positiontup or ())
        # The statement's own values (the words' JSON keys, the attempt's 1).
        self._literals = {name: bind.effective_value for name, bind in compiled.binds.items()}

    def arguments(self, given: Mapping[str, Any]) -> list[Any]:
        return [given[name] if name in given else self._literals[name] for name in self._order]


class _RecordColumns:
    """An asyncpg record read by attribute, as the row mappers read SQLAlchemy's rows."""

    __slots__ = ("_record",)

    def __init__(self, record: asyncpg.Record) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        return self._record[name]


# Built once: constructing the statement cost as much CPU as running it (profile of the worker).
_CLAIM_DUE = _DriverStatement(_claim_statement(one=False))
_CLAIM_ONE = _DriverStatement(_claim_statement(one=True))


def _mark_sent_statement() -> Update:
    """Rows ``ids`` still unsent marked sent at ``now`` with their ``last_errors`` (same order), locked
    in id order first (an UPDATE locks in whatever order it scans); answers their ids and job ids."""
    ids = bindparam("ids", type_=ARRAY(PG_UUID(as_uuid=True)))
    marks = (
        func.unnest(ids, bindparam("last_errors", type_=ARRAY(Text())))
        .table_valued(column("id", PG_UUID(as_uuid=True)), column("last_error", Text()))
        .render_derived(name="marks")
    )
    unsent = _OUTBOX.alias("unsent")
    locked = (
        select(unsent.c.id)
        .where(unsent.c.id == func.any(ids), unsent.c.sent_at.is_(None))
        .order_by(unsent.c.id)
        .with_for_update()
        .scalar_subquery()
    )
    now = bindparam("now", type_=_OUTBOX.c.sent_at.type)
    return (
        update(_OUTBOX)
        .where(_OUTBOX.c.id == marks.c.id, _OUTBOX.c.id.in_(locked))
        .values(sent_at=now, last_error=marks.c.last_error, leased_by=None, updated_at=now)
        .returning(_OUTBOX.c.id, _OUTBOX.c.job_id)
    )


_MARK_SENT = _mark_sent_statement()


class SqlaOutboxClaims:
    """Claims and marks on an engine of their own (see ``create_claims_engine``): autocommit, so a claim
    or a mark is its one statement and nothing more; no pre-ping, as a claim failing on a connection
    the database dropped changes nothing (it is rolled back and tried again by the next round), and a
    mark is idempotent (the relay tries a failed one once more at once)."""

    def __init__(self, engine: AsyncEngine, publisher: JobEventPublisher) -> None:
        self._engine = engine
        self._publisher = publisher
        self._holder = LeaseHolder(engine)
        self._claiming = HeldConnections(engine)

    async def claim_for_dispatch(
        self, now: datetime, lease: timedelta, limit: int, message_id: UUID | None = None
    ) -> list[ClaimedDispatch]:
        """Rows due, and rows whose holder died (see lease_holders), leased to this process."""
        holder = await self._holder.holder_id()
        parameters: dict[str, Any] = {"now": now, "lease_end": now + lease, "limit": limit, "holder": holder}
        if message_id is not None:
            parameters["message_id"] = message_id
        statement = _CLAIM_DUE if message_id is None else _CLAIM_ONE
        async with self._claiming.connection() as connection:
            records = await connection.fetch(statement.sql, *statement.arguments(parameters))
        rows = [_RecordColumns(record) for record in records]
        if any(row.leased_by is None for row in rows):
            await self._holder.lost(holder)
        return [_claimed_dispatch(row) for row in rows]

    async def mark_dispatched(
        self,
        last_errors: Mapping[UUID, str | None],
        dispatched: Collection[UUID],
        now: datetime,
        deadlines: Mapping[ReferenceKind, timedelta],
    ) -> None:
        """One statement (``adapters/persistence/dispatch_marks.py``), then the events published."""
        await mark_dispatched(self._engine, self._publisher, last_errors, dispatched, now, deadlines)

    async def close(self) -> None:
        """Release this process's holder lock (its leased rows then count as orphaned), and the claims'
        connections."""
        await self._claiming.close()
        await self._holder.close()


class SqlaOutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, message: OutboxMessage) -> None:
        self._session.add(
            OutboxRow(
                id=message.id,
                job_id=message.job_id,
                created_at=message.created_at,
                attempts=message.attempts,
                next_attempt_at=message.next_attempt_at or message.created_at,
                traceparent=message.traceparent,
            )
        )
        await self._session.flush()

    async def get(self, message_id: UUID) -> OutboxMessage | None:
        row = await self._session.get(OutboxRow, message_id, populate_existing=True)
        return _message_from_row(row) if row else None

    async def get_for_update(self, message_id: UUID) -> OutboxMessage | None:
        row = await self._session.get(OutboxRow, message_id, populate_existing=True, with_for_update=True)
        return _message_from_row(row) if row else None

    async def claim(self, message_id: UUID, now: datetime, lease: timedelta) -> OutboxMessage | None:
        return next(iter(await self._claim(now, lease, 1, OutboxRow.id == message_id)), None)

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[OutboxMessage]:
        return await self._claim(now, lease, limit)

    async def _claim(self, now: datetime, lease: timedelta, limit: int, *extra: Any) -> list[OutboxMessage]:
        due = (
            select(OutboxRow.id)
            .where(OutboxRow.sent_at.is_(None), OutboxRow.next_attempt_at <= now, *extra)
            .order_by(OutboxRow.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        rows = await self._session.scalars(
            update(OutboxRow)
            .where(OutboxRow.id.in_(due))
            .values(attempts=OutboxRow.attempts + 1, next_attempt_at=now + lease, updated_at=now)
            .returning(OutboxRow)
            .execution_options(synchronize_session=False)
        )
        return [_message_from_row(r) for r in rows]

    async def mark_sent(self, last_errors: Mapping[UUID, str | None], now: datetime) -> dict[UUID, UUID]:
        if not last_errors:
            return {}
        ids = sorted(last_errors)
        rows = await self._session.execute(
            _MARK_SENT, {"ids": ids, "last_errors": [last_errors[i] for i in ids], "now": now}
        )
        return {row.id: row.job_id for row in rows}

    async def save(self, message: OutboxMessage) -> None:
        await self._session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == message.id)
            .values(
                attempts=message.attempts,
                next_attempt_at=message.next_attempt_at,
                sent_at=message.sent_at,
                last_error=message.last_error,
                leased_by=None,
            )
        )

    async def prune_sent(self, sent_before: datetime) -> int:

        result = await self._session.execute(
            delete(OutboxRow).where(OutboxRow.sent_at.is_not(None), OutboxRow.sent_at < sent_before)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def backlog(self) -> OutboxBacklog:
        row = (
            await self._session.execute(
                select(func.count(), func.min(OutboxRow.created_at)).where(OutboxRow.sent_at.is_(None))
            )
        ).one()
        return OutboxBacklog(unsent=int(row[0]), oldest_created_at=row[1])


class SqlaInboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, webhook_id: str, job_id: UUID, event_type: str, received_at: datetime) -> bool:
        inserted = await self._session.scalar(
            insert(WebhookInboxRow)
            .values(webhook_id=webhook_id, job_id=job_id, event_type=event_type, received_at=received_at)
            .on_conflict_do_nothing(index_elements=["webhook_id"])
            .returning(WebhookInboxRow.webhook_id)
        )
        return inserted is not None

    async def prune(self, received_before: datetime) -> int:
        result = await self._session.execute(
            delete(WebhookInboxRow).where(WebhookInboxRow.received_at < received_before)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
