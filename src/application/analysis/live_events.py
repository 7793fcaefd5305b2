"""Job events leave through the unit of work: it stores the new events of the jobs it saved in its
transaction and announces them to live streams after the commit."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from application.ports.analysis import JobEventPublisher
from domain.analysis.jobs import Job, JobEvent

logger = logging.getLogger(__name__)


async def commit_and_publish(
    saved: list[Job],
    store: Callable[[list[JobEvent]], Awaitable[list[JobEvent]]],
    commit: Callable[[], Awaitable[None]],
    publisher: JobEventPublisher,
) -> None:
    """What a unit of work's ``commit()`` does with the jobs it added or saved: store their new events
    in the transaction (``store`` answers them with their places in their owners' feeds), commit it,
    then hand the events over and publish them. Nothing is published when the commit fails."""
    events = await store([event for job in saved for event in job.pending_events])
    await commit()
    for job in saved:
        job.pending_events.clear()
    saved.clear()
    await announce(publisher, events)


async def announce(publisher: JobEventPublisher, events: list[JobEvent]) -> None:
    """Publish events that are already committed. A failure only delays them: the database is the
    source of truth and SSE streams catch up from it, so it is logged, never raised."""
    if not events:
        return
    try:
        await publisher.publish(events)
    except Exception:
        logger.warning(
            "publishing events of job %s failed; streams will catch up", events[0].job_id, exc_info=True
        )
