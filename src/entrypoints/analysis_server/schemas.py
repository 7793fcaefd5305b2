"""The analysis request body (docs/analysis-protocol.md, section 1), decoded strictly with msgspec."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from application.reference_analysis.orders import MAX_WORDS, AnalysisOrder, AudioSource
from domain.catalog import ReferenceKind, Word

Url = Annotated[str, Meta(min_length=1, max_length=8192)]


class AudioSourceBody(msgspec.Struct, frozen=True):
    url: Url
    content_type: Annotated[str, Meta(max_length=255)] = ""


class WordBody(msgspec.Struct, frozen=True):
    index: Annotated[int, Meta(ge=0)]
    text: Annotated[str, Meta(min_length=1, max_length=100)]
    start: Annotated[float, Meta(ge=0)]
    end: Annotated[float, Meta(ge=0)]
    # Accepted for the protocol's sake; this server computes reference features from the reference audio.
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

    def to_order(self) -> AnalysisOrder:
        """Raises domain InvalidInputError when the body breaks a rule its types cannot express."""
        return AnalysisOrder(
            job_id=self.job_id,
            kind=ReferenceKind(self.kind),
            recording=AudioSource(self.recording.url, self.recording.content_type),
            reference=AudioSource(self.reference.url, self.reference.content_type),
            callback_url=self.callback_url,
            deadline=self.deadline,
            text=self.text,
            words=tuple(Word(word.index, word.text, word.start, word.end) for word in self.words),
        )


class AcceptedOut(msgspec.Struct, frozen=True):
    job_id: UUID
    status: Literal["accepted", "duplicate"]


class HealthOut(msgspec.Struct, frozen=True):
    status: Literal["ok", "stopping"]
    running: int
    waiting: int
    capacity: int
    webhooks_pending: int


def decode_request(body: bytes) -> AnalysisRequestBody:
    """Raises msgspec.DecodeError for bytes that are not JSON, msgspec.ValidationError for a wrong shape."""
    return msgspec.json.decode(body, type=AnalysisRequestBody)
