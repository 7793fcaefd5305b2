"""Announcing committed job events to live streams."""

from __future__ import annotations

import logging

from application.ports.analysis import JobEventPublisher
from domain.analysis.jobs import JobEvent

logger = logging.getLogger(__name__)


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
