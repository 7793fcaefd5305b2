"""What a client needs to know before it asks: limits, accepted formats and the names of stages and scores.

Built from the settings and domain constants the API itself enforces, so a client never keeps copies.
"""

from __future__ import annotations

import msgspec
from litestar import Controller, get

from application.accounts import MAX_DISPLAY_NAME_LENGTH
from application.analysis.settings import PipelineSettings
from domain.accounts import MAX_EMAIL_LENGTH, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from domain.analysis.jobs import PROGRESS_STAGES, EventType, JobStatus
from domain.analysis.multipart import MIN_PART_BYTES
from domain.analysis.results import SCORE_ASPECTS, WordStatus
from domain.audio import AudioFormat
from domain.catalog import ReferenceKind
from entrypoints.http.controllers.catalog import MAX_SEARCH_LENGTH
from entrypoints.http.dependencies import Injected


class RecordingLimitsOut(msgspec.Struct):
    """A recording of this kind is refused outside these bounds (413 or 422)."""

    max_bytes: int
    max_seconds: float
    min_seconds: float


class AudioFormatOut(msgspec.Struct):
    """An audio format the API accepts; the format is read from the file's bytes, never its name."""

    name: str
    content_type: str
    file_extensions: list[str]


class TextLimitsOut(msgspec.Struct):
    """Lengths, in characters, the API accepts for the fields a user types."""

    email_max: int
    password_min: int
    password_max: int
    display_name_max: int
    search_max: int


class ResumableUploadsOut(msgspec.Struct):
    """Recordings larger than ``above_bytes`` go up resumably, in parts of ``part_bytes``."""

    above_bytes: int
    part_bytes: int


class ClientConfigOut(msgspec.Struct):
    recording_limits: dict[str, RecordingLimitsOut]
    audio_formats: list[AudioFormatOut]
    text_limits: TextLimitsOut
    progress_stages: list[str]
    score_aspects: list[str]
    word_statuses: list[str]
    job_event_types: list[str]
    terminal_job_event_types: list[str]
    terminal_job_statuses: list[str]
    resumable_uploads: ResumableUploadsOut

    @classmethod
    def of(cls, pipeline: PipelineSettings) -> ClientConfigOut:
        limits = {kind.value: pipeline.limits(kind) for kind in ReferenceKind}
        return cls(
            recording_limits={
                kind: RecordingLimitsOut(limit.max_bytes, limit.max_seconds, limit.min_seconds)
                for kind, limit in limits.items()
            },
            audio_formats=[
                AudioFormatOut(audio.value, audio.content_type, list(audio.file_extensions))
                for audio in AudioFormat
            ],
            text_limits=TextLimitsOut(
                email_max=MAX_EMAIL_LENGTH,
                password_min=MIN_PASSWORD_LENGTH,
                password_max=MAX_PASSWORD_LENGTH,
                display_name_max=MAX_DISPLAY_NAME_LENGTH,
                search_max=MAX_SEARCH_LENGTH,
            ),
            progress_stages=list(PROGRESS_STAGES),
            score_aspects=list(SCORE_ASPECTS),
            word_statuses=[status.value for status in WordStatus],
            job_event_types=[event.value for event in EventType],
            terminal_job_event_types=[event.value for event in EventType if event.is_terminal],
            terminal_job_statuses=[status.value for status in JobStatus if status.is_terminal],
            resumable_uploads=ResumableUploadsOut(pipeline.resumable_upload_above_bytes, MIN_PART_BYTES),
        )


class ClientConfigController(Controller):
    tags = ["client"]

    @get("/client-config")
    async def client_config(self, pipeline: Injected[PipelineSettings]) -> ClientConfigOut:
        """Public. Limits on recordings (per kind: ``token``, ``script``) and typed text, the accepted
        audio formats, and the names of a job's progress stages, event types, final statuses, score aspects and word
        statuses, as this server enforces and reports them, and the size above which a recording is
        uploaded resumably (in parts, ``POST .../multipart-uploads``). The web client reads these instead of
        keeping copies."""
        return ClientConfigOut.of(pipeline)
