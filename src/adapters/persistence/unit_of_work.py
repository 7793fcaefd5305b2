"""The SQLAlchemy unit of work: one session, one transaction, explicit commit; the new events of the
jobs it saved are stored in that transaction and published after it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.persistence.job_repositories import (
    SqlaInboxRepository,
    SqlaJobEventRepository,
    SqlaJobRepository,
    SqlaOutboxRepository,
)
from adapters.persistence.repositories import (
    SqlaActorRepository,
    SqlaBookmarkRepository,
    SqlaPracticeItemRepository,
    SqlaUserRepository,
)
from adapters.persistence.upload_repositories import SqlaMultipartUploadRepository
from application.analysis.live_events import commit_and_publish
from application.ports.analysis import JobEventPublisher
from domain.errors import ConflictError


class SqlaUnitOfWork:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], publisher: JobEventPublisher
    ) -> None:
        self._session_factory = session_factory
        self._publisher = publisher

    async def __aenter__(self) -> Self:
        self.session = self._session_factory()
        self.users = SqlaUserRepository(self.session)
        self.actors = SqlaActorRepository(self.session)
        self.items = SqlaPracticeItemRepository(self.session)
        self.bookmarks = SqlaBookmarkRepository(self.session)
        self.jobs = SqlaJobRepository(self.session)
        self.job_events = SqlaJobEventRepository(self.session)
        self.outbox = SqlaOutboxRepository(self.session)
        self.inbox = SqlaInboxRepository(self.session)
        self.multipart_uploads = SqlaMultipartUploadRepository(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()
        if isinstance(exc, IntegrityError):
            raise ConflictError("the change conflicts with existing data") from exc

    async def commit(self) -> None:
        try:
            await commit_and_publish(
                self.jobs.seen, self.job_events.append, self.session.commit, self._publisher
            )
        except IntegrityError as error:
            raise ConflictError("the change conflicts with existing data") from error
