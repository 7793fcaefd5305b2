"""In-memory fakes of the ports, for use-case tests. No inheritance: they satisfy the Protocols."""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeVar
from uuid import UUID

from tests.support.pipeline_fakes import (
    InMemoryInbox,
    InMemoryJobEvents,
    InMemoryJobs,
    InMemoryOutbox,
    PipelineTables,
    RecordingPublisher,
)

from application.analysis.live_events import commit_and_publish
from application.ports.audio import InspectedAudio
from application.ports.idempotency import (
    IdempotencyReceipt,
    KeyClaim,
    KeyClaimRequest,
    KeyState,
    KeyTakenError,
    StoredResponse,
)
from application.ports.job_intake import IntakeReference, ReuseQuery
from application.ports.persistence import (
    ActorFilter,
    BookmarkedItem,
    ClaimedDispatch,
    MovieLineFilter,
    Page,
    PageRequest,
    ScriptFilter,
)
from application.ports.security import AccessToken
from application.ports.storage import ObjectNotFoundError, PresignedUrl, StoredObject
from domain.accounts import Principal, Role, User
from domain.analysis.jobs import Job, JobStatus
from domain.analysis.outbox import OutboxMessage
from domain.audio import AudioFormat, AudioLimits, AudioTooLongError
from domain.bookmarks import Bookmark
from domain.catalog import Actor, MovieLine, PracticeItem, ReferenceKind, Word
from domain.errors import AuthenticationError, ConflictError
from domain.wording import words_of

T = TypeVar("T")


class FixedClock:
    """Moves ``tick`` per reading (1 ms, so times differ) and as far as a test ``advance``s it."""

    def __init__(self, start: datetime | None = None, tick: timedelta = timedelta(milliseconds=1)) -> None:
        self.current = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._tick = tick

    def now(self) -> datetime:
        self.current += self._tick
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


class SequentialIds:
    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def new_id(self) -> UUID:
        return UUID(int=next(self._counter))


class PlainTextHasher:
    """Reversible on purpose: use-case tests check behaviour, not cryptography."""

    def __init__(self) -> None:
        self.scheme = "v1"

    async def hash(self, password: str) -> str:
        return f"{self.scheme}:{password}"

    async def verify(self, password_hash: str, password: str) -> bool:
        return password_hash.split(":", 1)[1] == password

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"{self.scheme}:")


class FakeAccessTokenIssuer:
    def issue(self, principal: Principal) -> AccessToken:
        return AccessToken(token=f"{principal.user_id}|{principal.role.value}", expires_in_seconds=60)

    def verify(self, token: str) -> Principal:
        try:
            user_id, role = token.split("|")
            return Principal(UUID(user_id), Role(role))
        except ValueError as error:
            raise AuthenticationError("bad token") from error


@dataclass
class Tables:
    users: dict[UUID, User] = field(default_factory=dict)
    actors: dict[UUID, Actor] = field(default_factory=dict)
    items: dict[UUID, PracticeItem] = field(default_factory=dict)
    bookmarks: dict[tuple[UUID, UUID], Bookmark] = field(default_factory=dict)
    pipeline: PipelineTables = field(default_factory=PipelineTables)


def _page(items: list[T], page: PageRequest) -> Page[T]:
    return Page(items[page.offset : page.offset + page.limit], len(items), page.limit, page.offset)


class InMemoryUsers:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(self, user: User) -> None:
        if any(u.email == user.email for u in self._t.users.values()):
            raise ConflictError("duplicate email")
        self._t.users[user.id] = copy.copy(user)

    async def get(self, user_id: UUID) -> User | None:
        found = self._t.users.get(user_id)
        return copy.copy(found) if found else None

    async def get_by_email(self, email: str) -> User | None:
        return next((copy.copy(u) for u in self._t.users.values() if u.email == email), None)

    async def save(self, user: User) -> None:
        self._t.users[user.id] = copy.copy(user)


class InMemoryActors:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(self, actor: Actor) -> None:
        self._t.actors[actor.id] = copy.copy(actor)

    async def get(self, actor_id: UUID) -> Actor | None:
        found = self._t.actors.get(actor_id)
        return copy.copy(found) if found else None

    async def save(self, actor: Actor) -> None:
        self._t.actors[actor.id] = copy.copy(actor)

    async def delete(self, actor_id: UUID) -> None:
        self._t.actors.pop(actor_id, None)

    async def has_movie_lines(self, actor_id: UUID) -> bool:
        return any(
            isinstance(item.detail, MovieLine) and item.detail.actor.id == actor_id
            for item in self._t.items.values()
        )

    async def list(self, filters: ActorFilter, page: PageRequest) -> Page[Actor]:
        items = sorted(self._t.actors.values(), key=lambda a: a.name)
        if filters.search:
            items = [a for a in items if filters.search.lower() in a.name.lower()]
        return _page(items, page)


class InMemoryPracticeItems:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(self, item: PracticeItem) -> None:
        self._t.items[item.id] = copy.deepcopy(item)

    async def get(self, item_id: UUID) -> PracticeItem | None:
        found = self._t.items.get(item_id)
        return copy.deepcopy(found) if found else None

    async def reference_state(self, item_id: UUID) -> tuple[ReferenceKind, bool] | None:
        found = self._t.items.get(item_id)
        return None if found is None else (found.kind, found.reference_audio is not None)

    async def save(self, item: PracticeItem) -> None:
        self._t.items[item.id] = copy.deepcopy(item)

    async def delete(self, item_id: UUID) -> None:
        self._t.items.pop(item_id, None)
        for key in [key for key in self._t.bookmarks if key[1] == item_id]:
            del self._t.bookmarks[key]

    async def list_movie_lines(self, filters: MovieLineFilter, page: PageRequest) -> Page[PracticeItem]:
        lines = [item for item in self._t.items.values() if isinstance(item.detail, MovieLine)]
        if filters.actor_id:
            lines = [item for item in lines if item.detail_as(MovieLine).actor.id == filters.actor_id]
        return _page(copy.deepcopy(lines), page)

    async def list_scripts(self, filters: ScriptFilter, page: PageRequest) -> Page[PracticeItem]:
        scripts = [item for item in self._t.items.values() if not isinstance(item.detail, MovieLine)]
        return _page(copy.deepcopy(scripts), page)


class InMemoryBookmarks:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(self, bookmark: Bookmark) -> bool:
        key = (bookmark.user_id, bookmark.item_id)
        if key in self._t.bookmarks:
            return False
        self._t.bookmarks[key] = bookmark
        return True

    async def remove(self, user_id: UUID, item_id: UUID) -> bool:
        return self._t.bookmarks.pop((user_id, item_id), None) is not None

    async def list_for_user(self, user_id: UUID) -> list[BookmarkedItem]:
        return [
            BookmarkedItem(bookmark, copy.deepcopy(self._t.items[item_id]))
            for (owner, item_id), bookmark in self._t.bookmarks.items()
            if owner == user_id
        ]


class FakeUnitOfWork:
    """Works on a copy of the tables; ``commit`` makes the copy the database's, with the new events of
    the jobs it saved, then publishes those events. Leaving without it discards the copy."""

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database
        self.committed = False

    async def __aenter__(self) -> Self:
        self._working = copy.deepcopy(self._database.tables)
        self.users = InMemoryUsers(self._working)
        self.actors = InMemoryActors(self._working)
        self.items = InMemoryPracticeItems(self._working)
        self.bookmarks = InMemoryBookmarks(self._working)
        self.jobs = InMemoryJobs(self._working.pipeline)
        self.job_events = InMemoryJobEvents(self._working.pipeline)
        self.outbox = InMemoryOutbox(self._working.pipeline, self._working.items)
        self.inbox = InMemoryInbox(self._working.pipeline)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def commit(self) -> None:
        if self._database.fail_next_commit or self._database.failing_commits:
            self._database.fail_next_commit = False
            self._database.failing_commits = max(self._database.failing_commits - 1, 0)
            raise ConflictError("injected commit failure")
        await commit_and_publish(
            self.jobs.seen,
            self.job_events.append,
            self._make_working_tables_the_database,
            self._database.publisher,
        )

    async def _make_working_tables_the_database(self) -> None:
        self._database.tables = self._working
        self._database.commits += 1
        self.committed = True


class FakeDatabase:
    def __init__(self) -> None:
        self.tables = Tables()
        self.commits = 0
        self.fail_next_commit = False
        self.failing_commits = 0  # how many of the next commits fail
        self.publisher = RecordingPublisher()

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    async def claim_for_dispatch(
        self, now: datetime, lease: timedelta, limit: int, message_id: UUID | None = None
    ) -> list[ClaimedDispatch]:
        """The ``OutboxClaims`` port: a claim commits on its own."""
        async with self() as uow:
            claimed = await uow.outbox.claim_for_dispatch(now, lease, limit, message_id)
            await uow.commit()
        return claimed

    async def mark_dispatched(
        self,
        last_errors: Mapping[UUID, str | None],
        dispatched: Collection[UUID],
        now: datetime,
        deadlines: Mapping[ReferenceKind, timedelta],
    ) -> None:
        """The ``OutboxClaims`` port's mark: one commit, the jobs moved by the domain's own rule."""
        async with self() as uow:
            marked = await uow.outbox.mark_sent(last_errors, now)
            jobs = await uow.jobs.get_many_for_update(
                [job_id for message_id, job_id in marked.items() if message_id in dispatched]
            )
            for job in jobs:
                job.mark_dispatched(now, deadlines[job.kind])
            await uow.jobs.save_many(jobs)
            await uow.commit()


class FakeJobIntake:
    """The upload path's reads and its one write on the fake database: the write is one commit of its
    unit of work (events numbered and published as it does), with the receipts' responses kept in
    ``receipts`` (scope, key) in that same commit."""

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database
        self.receipts: dict[tuple[str, str], StoredResponse] = {}
        # Keys claimed through ``reference`` (scope, key) -> fingerprint.
        self.claims: dict[tuple[str, str], str] = {}

    async def reference(
        self, item_id: UUID, reuse: ReuseQuery | None = None, claim: KeyClaimRequest | None = None
    ) -> IntakeReference | None:
        if claim is not None:
            self._claim(claim)
        item = self._database.tables.items.get(item_id)
        if item is None:
            return None
        reusable: dict[str, UUID] = {}
        if reuse is not None:
            matching = sorted(
                (
                    job
                    for job in self._database.tables.pipeline.jobs.values()
                    if job.user_id == reuse.user_id
                    and job.item_id == item_id
                    and job.kind is item.kind
                    and job.status is JobStatus.COMPLETED
                    and job.inputs is not None
                    and job.inputs.recording_sha256 == reuse.recording_sha256
                    and job.inputs.feature_version == reuse.feature_version
                ),
                key=lambda job: job.created_at,
            )
            reusable = {job.inputs.reference_version: job.id for job in matching if job.inputs}
        return IntakeReference(item.kind, item.reference_version, reusable)

    def _claim(self, claim: KeyClaimRequest) -> None:
        taken = self.claims.get((claim.scope, claim.key))
        if taken is None:
            self.claims[(claim.scope, claim.key)] = claim.fingerprint
            return
        if taken != claim.fingerprint:
            raise KeyTakenError(KeyClaim(KeyState.MISMATCH))
        response = self.receipts.get((claim.scope, claim.key))
        raise KeyTakenError(KeyClaim(KeyState.IN_FLIGHT if response is None else KeyState.REPLAY, response))

    async def accept(
        self, job: Job, outbox: OutboxMessage | None, receipt: IdempotencyReceipt[Job] | None = None
    ) -> None:
        response = receipt.response(job) if receipt is not None else None
        async with self._database() as uow:
            await uow.jobs.add(job)
            if outbox is not None:
                await uow.outbox.add(outbox)
            await uow.commit()
        if receipt is not None and response is not None:
            self.receipts[(receipt.scope, receipt.key)] = response


class InMemoryStorage:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    async def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        self.objects[key] = (data, content_type)
        return StoredObject(key, len(data), content_type)

    async def get(self, key: str) -> bytes:
        if key not in self.objects:
            raise ObjectNotFoundError(key)
        return self.objects[key][0]

    async def stat(self, key: str) -> StoredObject | None:
        found = self.objects.get(key)
        return StoredObject(key, len(found[0]), found[1]) if found else None

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    async def list_keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    async def key_pages(self, prefix: str, page_size: int) -> AsyncIterator[list[str]]:
        keys = await self.list_keys(prefix)
        for start in range(0, len(keys), page_size):
            yield keys[start : start + page_size]

    async def presigned_get_url(self, key: str, expires_in_seconds: int) -> PresignedUrl:
        return PresignedUrl(f"memory://{key}?get", "GET", datetime.now(UTC), {})

    async def presigned_put_url(
        self, key: str, content_type: str, expires_in_seconds: int, *, content_length: int | None = None
    ) -> PresignedUrl:
        headers = {"Content-Type": content_type}
        if content_length is not None:
            headers["Content-Length"] = str(content_length)
        return PresignedUrl(f"memory://{key}?put", "PUT", datetime.now(UTC), headers)

    async def ping(self) -> None:
        return None


class FakeInspector:
    """Treats the payload b"wav:<seconds>" as a WAV recording of that many seconds."""

    def inspect(self, data: bytes, limits: AudioLimits) -> InspectedAudio:
        seconds = float(data.split(b":", 1)[1])
        if seconds > limits.max_seconds:
            raise AudioTooLongError(limits.max_seconds, seconds)
        return InspectedAudio(AudioFormat.WAV, seconds, len(data))


def random_id() -> UUID:
    return uuid.uuid4()


class FakeFeatureExtractor:
    """Word features are the word's span, so tests can see which timings they were computed for."""

    version = "fake-features/1"

    def __init__(self) -> None:
        self.calls = 0

    def word_features(self, audio: bytes, words: Sequence[Word]) -> list[dict[str, Any]]:
        self.calls += 1
        return [{"span": [word.start, word.end], "audio_bytes": len(audio)} for word in words]


class FakeAligner:
    """Times the text's words one after another, 0.25 s each; remembers the audio it aligned to."""

    def __init__(self) -> None:
        self.aligned: list[bytes] = []

    def align(self, audio: bytes, text: str) -> list[Word]:
        self.aligned.append(audio)
        return [Word(i, word, 0.25 * i, 0.25 * (i + 1)) for i, word in enumerate(words_of(text))]
