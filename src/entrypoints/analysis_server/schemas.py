"""The analysis server's answers, and the protocol's request (shared_kernel) as an order."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

import msgspec

from application.reference_analysis.orders import AnalysisOrder, AudioSource
from domain.catalog import ReferenceKind, Word
from shared_kernel.analysis_protocol import AnalysisRequestBody


def to_order(body: AnalysisRequestBody, traceparent: str | None = None) -> AnalysisOrder:
    """Raises domain InvalidInputError when the body breaks a rule its types cannot express."""
    return AnalysisOrder(
        job_id=body.job_id,
        kind=ReferenceKind(body.kind),
        recording=AudioSource(body.recording.url, body.recording.content_type),
        reference=AudioSource(body.reference.url, body.reference.content_type),
        callback_url=body.callback_url,
        deadline=body.deadline,
        text=body.text,
        words=tuple(Word(word.index, word.text, word.start, word.end) for word in body.words),
        traceparent=traceparent,
    )


class ProblemOut(msgspec.Struct, frozen=True):
    """RFC 9457 problem details; ``errors`` names the fields of a request that broke a rule."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, str]] | None = None


class AcceptedOut(msgspec.Struct, frozen=True):
    job_id: UUID
    status: Literal["accepted", "duplicate"]


class HealthOut(msgspec.Struct, frozen=True):
    status: Literal["ok", "stopping"]
    running: int
    waiting: int
    capacity: int
    webhooks_pending: int
