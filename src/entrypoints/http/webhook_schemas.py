"""The analysis servers' webhook payloads (shared_kernel.analysis_protocol) as the service's events."""

from __future__ import annotations

from uuid import UUID

from application.analysis.webhooks import AnalysisEvent, Completed, Failed, Progress, Started
from domain.analysis.results import AnalysisResult, WordResult, WordStatus
from shared_kernel.analysis_protocol import (
    CompletedData,
    FailedData,
    ProgressData,
    ResultBody,
    WebhookData,
    decode_webhook_data,
)


def decode_webhook(body: bytes) -> tuple[str, UUID, AnalysisEvent]:
    """Decode the envelope and its typed data; raise ValueError naming what is wrong."""
    event_type, data = decode_webhook_data(body)
    return event_type, data.job_id, _event(data)


def _result(body: ResultBody) -> AnalysisResult:
    return AnalysisResult(
        overall=body.overall,
        scores=dict(body.scores),
        words=[
            WordResult(w.index, w.text, w.start, w.end, w.score, WordStatus(w.status)) for w in body.words
        ],
        metrics=dict(body.metrics),
        contours=dict(body.contours),
    )


def _event(data: WebhookData) -> AnalysisEvent:
    match data:
        case ProgressData(percent=percent, stage=stage):
            return Progress(percent, stage)
        case CompletedData(result=result):
            return Completed(_result(result))
        case FailedData(code=code, message=message):
            return Failed(code, message or code)
    return Started()
