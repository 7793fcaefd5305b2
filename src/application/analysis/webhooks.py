"""Applying the analysis servers' (already authenticated) webhook deliveries to jobs, exactly once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from application.ports.persistence import UnitOfWorkFactory
from application.ports.system import Clock
from domain.analysis.jobs import FailureCode, Job, JobEvent
from domain.analysis.results import AnalysisResult

logger = logging.getLogger(__name__)


class WebhookOutcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"  # a valid delivery that changes nothing: the job is finished, or unknown
    UNKNOWN_JOB = "unknown_job"


@dataclass(frozen=True, slots=True)
class Started:
    pass


@dataclass(frozen=True, slots=True)
class Progress:
    percent: int
    stage: str


@dataclass(frozen=True, slots=True)
class Completed:
    result: AnalysisResult


@dataclass(frozen=True, slots=True)
class Failed:
    code: str
    message: str


AnalysisEvent = Started | Progress | Completed | Failed


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    webhook_id: str
    job_id: UUID
    event_type: str
    event: AnalysisEvent


class AnalysisWebhooks:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def receive(self, delivery: WebhookDelivery) -> WebhookOutcome:
        """Record the webhook-id and apply the change in one transaction; repeats change nothing."""
        now = self._clock.now()
        async with self._uow() as uow:
            if not await uow.inbox.record(delivery.webhook_id, delivery.job_id, delivery.event_type, now):
                return WebhookOutcome.DUPLICATE
            job = await uow.jobs.get_for_update(delivery.job_id)
            if job is None:
                await uow.commit()
                logger.warning("webhook %s names unknown job %s", delivery.webhook_id, delivery.job_id)
                return WebhookOutcome.UNKNOWN_JOB
            # A report about a job still queued proves the server received it (see note_reached_server).
            reached = job.note_reached_server(now)
            event = _apply(job, delivery.event, now)
            if event is not None or reached is not None:
                await uow.jobs.save(job)
            await uow.commit()
        return WebhookOutcome.IGNORED if event is None else WebhookOutcome.APPLIED


def _apply(job: Job, event: AnalysisEvent, now: datetime) -> JobEvent | None:
    match event:
        case Started():
            return job.start(now)
        case Progress(percent=percent, stage=stage):
            return job.report_progress(percent, stage, now)
        case Completed(result=result):
            return job.complete(result, now)
        case Failed(code=code, message=message):
            return job.fail(f"{FailureCode.ANALYSIS_FAILED.value}:{code}", message, now)
    return None
