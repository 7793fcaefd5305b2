"""An analysis order as the reference analysis server accepts it (docs/analysis-protocol.md, section 1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit
from uuid import UUID

from domain.catalog import ReferenceKind, Word, check_word_timings
from domain.errors import InvalidInputError
from domain.voice import WordTiming

MAX_WORDS = 20_000


@dataclass(frozen=True, slots=True)
class AudioSource:
    """A presigned GET URL of a recording and the content type the API stored it with."""

    url: str
    content_type: str


@dataclass(frozen=True, slots=True)
class AnalysisOrder:
    """One job to analyse; ``job_id`` is also the request's idempotency key.

    Construction enforces what a well-formed JSON body can still get wrong: URLs that are not http(s),
    and word timings the catalog would refuse (out of order, backwards, overlapping).
    """

    job_id: UUID
    kind: ReferenceKind
    recording: AudioSource
    reference: AudioSource
    callback_url: str
    deadline: datetime | None
    text: str
    words: tuple[Word, ...] = ()
    # The W3C trace context of the request that brought the order (None while tracing is off): the
    # analysis and its webhooks continue that trace.
    traceparent: str | None = None

    def __post_init__(self) -> None:
        for field_name, url in (
            ("recording.url", self.recording.url),
            ("reference.url", self.reference.url),
            ("callback_url", self.callback_url),
        ):
            _require_http_url(field_name, url)
        if self.deadline is not None and self.deadline.tzinfo is None:
            raise InvalidInputError("deadline", "must carry a UTC offset")
        if len(self.words) > MAX_WORDS:
            raise InvalidInputError("words", f"at most {MAX_WORDS} words")
        check_word_timings(self.words)

    @property
    def word_timings(self) -> list[WordTiming]:
        return [WordTiming(word.text, word.start, word.end) for word in self.words]


def _require_http_url(field_name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise InvalidInputError(field_name, "must be an absolute http or https URL")
