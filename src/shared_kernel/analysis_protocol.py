"""The analysis protocol's messages (docs/analysis-protocol.md): the request the service sends an analysis
server and the webhook payloads the server sends back. Both sides encode and decode with these."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

ANALYSES_PATH = "/v1/analyses"
MAX_WORDS = 20_000

Url = Annotated[str, Meta(min_length=1, max_length=8192)]
Score = Annotated[float, Meta(ge=0, le=100)]
Short = Annotated[str, Meta(min_length=1, max_length=64)]


class AudioSourceBody(msgspec.Struct, frozen=True):
    url: Url
    content_type: Annotated[str, Meta(max_length=255)] = ""


class WordBody(msgspec.Struct, frozen=True):
    index: Annotated[int, Meta(ge=0)]
    text: Annotated[str, Meta(min_length=1, max_length=100)]
    start: Annotated[float, Meta(ge=0)]
    end: Annotated[float, Meta(ge=0)]
    # Accepted for the protocol's sake; the reference server computes features from the reference audio.
    reference_features: dict[str, Any] | None = None


class AnalysisRequestBody(msgspec.Struct, frozen=True):
    job_id: UUID
    kind: Literal["token", "script"]
    recording: AudioSourceBody
    reference: AudioSourceBody
    callback_url: Url
    deadline: datetime | None = None
    text: Annotated[str, Meta(max_length=100_000)] = ""
    words: Annotated[list[WordBody], Meta(max_length=MAX_WORDS)] = []
    feature_config_version: Annotated[str, Meta(max_length=64)] | None = None


def decode_request(body: bytes) -> AnalysisRequestBody:
    """Raises msgspec.DecodeError for bytes that are not JSON, msgspec.ValidationError for a wrong shape."""
    return msgspec.json.decode(body, type=AnalysisRequestBody)


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


WebhookData = StartedData | ProgressData | CompletedData | FailedData

WEBHOOK_DATA_TYPES: dict[str, type[WebhookData]] = {
    "analysis.started": StartedData,
    "analysis.progress": ProgressData,
    "analysis.completed": CompletedData,
    "analysis.failed": FailedData,
}


class Envelope(msgspec.Struct, frozen=True):
    type: str
    timestamp: str
    data: msgspec.Raw


def decode_webhook_data(body: bytes) -> tuple[str, WebhookData]:
    """The envelope's type and its typed data; raise ValueError naming what is wrong."""
    try:
        envelope = msgspec.json.decode(body, type=Envelope)
    except msgspec.ValidationError as error:
        raise ValueError(f"invalid webhook envelope: {error}") from error
    except msgspec.DecodeError as error:
        raise ValueError("the webhook body is not JSON") from error
    data_type = WEBHOOK_DATA_TYPES.get(envelope.type)
    if data_type is None:
        known = ", ".join(WEBHOOK_DATA_TYPES)
        raise ValueError(f"unknown event type {envelope.type!r}; expected one of {known}")
    try:
        return envelope.type, msgspec.json.decode(envelope.data, type=data_type)
    except msgspec.ValidationError as error:
        raise ValueError(f"invalid data for {envelope.type}: {error}") from error
