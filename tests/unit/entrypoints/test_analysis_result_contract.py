"""What the reference analysis server sends is what the API's webhook endpoint accepts."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from adapters.reference_analysis.webhook_sender import webhook_body
from application.analysis.webhooks import Completed, Failed, Progress
from application.reference_analysis.outcomes import result_document
from application.reference_analysis.ports import Notification
from application.reference_analysis.reporting import STAGE_PERCENT
from domain.catalog import Word
from domain.voice import WordTiming, compare
from entrypoints.http.webhook_schemas import decode_webhook
from tests.unit.domain.voice.synthetic import RATE, phrase

WORDS = (Word(0, "one", 0.30, 0.92), Word(1, "two", 0.92, 1.54))


def _notification(event_type: str, data: dict[str, object]) -> tuple[str, bytes]:
    job_id = str(uuid4())
    body = webhook_body(Notification("msg_1", event_type, datetime.now(UTC), {"job_id": job_id, **data}))
    return job_id, body


def test_a_completed_webhook_decodes_as_the_api_expects() -> None:
    comparison = compare(
        phrase(seed=0, f0=180.0), phrase(seed=0), RATE, [WordTiming(w.text, w.start, w.end) for w in WORDS]
    )
    _, body = _notification("analysis.completed", {"result": result_document(comparison, WORDS, 2.5, 2.5)})

    _, _, event = decode_webhook(body)

    assert isinstance(event, Completed)
    assert [word.index for word in event.result.words] == [0, 1]


def test_every_progress_stage_decodes_as_the_api_expects() -> None:
    decoded = []
    for stage, percent in STAGE_PERCENT.items():
        _, body = _notification("analysis.progress", {"stage": stage, "percent": percent})
        decoded.append(decode_webhook(body)[2])

    assert decoded == [Progress(percent, stage) for stage, percent in STAGE_PERCENT.items()]


def test_a_failed_webhook_decodes_with_its_code_and_message() -> None:
    _, body = _notification("analysis.failed", {"code": "no_speech", "message": "No speech was found."})

    assert decode_webhook(body)[2] == Failed("no_speech", "No speech was found.")
