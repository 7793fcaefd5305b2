"""The analysis servers' webhook payloads (see docs/analysis-protocol.md), decoded strictly."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from application.analysis.webhooks import AnalysisEvent, Completed, Failed, Progress, Started
from domain.analysis.results import AnalysisResult, WordResult, WordStatus

Score = Annotated[float, Meta(ge=0, le=100)]
Short = Annotated[str, Meta(min_length=1, max_length=64)]


class WordResultBody(msgspec.Struct, frozen=True):
    index: Annotated[int, Meta(ge=0, le=100_000)]
    text: Annotated[str, Meta(max_length=100)]
    score: Score
    status: Literal["ok", "mispronounced", "omitted"]
    start: Annotated[float, Meta(ge=0)] | None = None
    end: Annotated[float, Meta(ge=0)] | None = None


class ResultBody(msgspec.Struct, frozen=True):
    overall: Score
    scores: dict[Short, Score]
    words: Annotated[list[WordResultBody], Meta(max_length=20_000)] = []
    metrics: dict[str, Any] = {}
    contours: dict[str, Any] = {}

    def to_domain(self) -> AnalysisResult:
        return AnalysisResult(
            overall=self.overall,
            scores=dict(self.scores),
            words=[
                WordResult(w.index, w.text, w.start, w.end, w.score, WordStatus(w.status)) for w in self.words
            ],
            metrics=dict(self.metrics),
            contours=dict(self.contours),
        )


class StartedData(msgspec.Struct, frozen=True):
    job_id: UUID


class ProgressData(msgspec.Struct, frozen=True):
    job_id: UUID
    percent: Annotated[int, Meta(ge=0, le=100)]
    stage: Annotated[str, Meta(min_length=1, max_length=32)]


class CompletedData(msgspec.Struct, frozen=True):
    job_id: UUID
    result: ResultBody


class FailedData(msgspec.Struct, frozen=True):
    job_id: UUID
    code: Short
    message: Annotated[str, Meta(max_length=1000)] = ""


_DATA_TYPES: dict[str, type[msgspec.Struct]] = {
    "analysis.started": StartedData,
    "analysis.progress": ProgressData,
    "analysis.completed": CompletedData,
    "analysis.failed": FailedData,
}


class Envelope(msgspec.Struct, frozen=True):
    type: str
    timestamp: str
    data: msgspec.Raw


def decode_webhook(body: bytes) -> tuple[str, UUID, AnalysisEvent]:
    """Decode the envelope and its typed data; raise ValueError naming what is wrong."""
    try:
        envelope = msgspec.json.decode(body, type=Envelope)
    except msgspec.ValidationError as error:
        raise ValueError(f"invalid webhook envelope: {error}") from error
    except msgspec.DecodeError as error:
        raise ValueError("the webhook body is not JSON") from error
    data_type = _DATA_TYPES.get(envelope.type)
    if data_type is None:
        raise ValueError(f"unknown event type {envelope.type!r}; expected one of {', '.join(_DATA_TYPES)}")
    try:
        data = msgspec.json.decode(envelope.data, type=data_type)
    except msgspec.ValidationError as error:
        raise ValueError(f"invalid data for {envelope.type}: {error}") from error
    return envelope.type, data.job_id, _event(data)  # type: ignore[attr-defined]


def _event(data: msgspec.Struct) -> AnalysisEvent:
    match data:
        case ProgressData(percent=percent, stage=stage):
            return Progress(percent, stage)
        case CompletedData(result=result):
            return Completed(result.to_domain())
        case FailedData(code=code, message=message):
            return Failed(code, message or code)
    return Started()
