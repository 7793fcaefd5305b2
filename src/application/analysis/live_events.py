"""Job events leave through the unit of work: it stores the new events of the jobs it saved in its
transaction and announces them to live streams after the commit."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from application.ports.analysis import JobEventPublisher
from domain.analysis.jobs import Job, JobEvent

logger = logging.getLogger(__name__)


def new_events(saved: Iterable[Job]) -> list[JobEvent]:
    """The events the saved jobs recorded since they were loaded, per job in sequence."""
    return [event for job in saved for event in job.pending_events]


def mark_published(saved: Iterable[Job]) -> None:
    for job in saved:
        job.pending_events.clear()


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
