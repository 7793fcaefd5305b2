"""One upload, one trace: the API, the worker and the analysis server run as real processes exporting
OTLP/HTTP to a collector in the test, and the spans of the job form one tree across all three."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.persistence import migrations
from tests.support.full_system import System
from tests.support.otlp_collector import OtlpCollector, ReceivedSpan, running_collector

pytestmark = pytest.mark.slow

LINE = "Practice makes perfect, one line at a time."
API = "voice-practice-api"
WORKER = "voice-practice-worker"
ANALYSIS = "voice-practice-analysis"
STAGE_SPANS = [
    f"analysis.{stage}" for stage in ("downloading", "decoding", "features", "aligning", "scoring")
]


@dataclass(frozen=True, slots=True)
class TracedUpload:
    job_id: str
    spans: list[ReceivedSpan]
    api_log: str

    @property
    def upload(self) -> ReceivedSpan:
        return next(
            span
            for span in self.spans
            if span.service == API and span.kind == "server" and span.name.endswith("/upload-audio")
        )

    @property
    def trace(self) -> list[ReceivedSpan]:
        return [span for span in self.spans if span.trace_id == self.upload.trace_id]

    def named(self, service: str, name: str) -> list[ReceivedSpan]:
        return [span for span in self.trace if span.service == service and span.name == name]

    def ancestry(self, span: ReceivedSpan) -> list[tuple[str, str]]:
        """(service, name) from the root of the trace down to ``span``."""
        by_id = {candidate.span_id: candidate for candidate in self.trace}
        chain = [span]
        while chain[-1].parent_id is not None:
            chain.append(by_id[chain[-1].parent_id])
        return [(link.service, link.name) for link in reversed(chain)]


def _completed_webhook_published(job_id: str) -> Callable[[list[ReceivedSpan]], bool]:
    """The completed event's publish, the worker's dispatch and the analysis server's sending of the
    completed webhook are all in: each process exports its spans on its own schedule, so the API's can
    reach the collector before the others' (the sending's span ends with the API's answer to it)."""

    def found(spans: list[ReceivedSpan]) -> bool:
        of_the_job = [span for span in spans if span.attributes.get("job.id") == job_id]
        return (
            any(
                span.name == "events.publish" and span.attributes.get("event.type") == "completed"
                for span in of_the_job
            )
            and any(span.service == WORKER and span.name == "analysis.dispatch" for span in of_the_job)
            and any(
                span.service == ANALYSIS
                and span.name == "webhook.send"
                and span.attributes.get("webhook.type") == "analysis.completed"
                for span in of_the_job
            )
        )

    return found


@pytest.fixture(scope="module")
def collector() -> Iterator[OtlpCollector]:
    with running_collector() as running:
        yield running


@pytest.fixture(scope="module")
def traced(
    collector: OtlpCollector,
    empty_database_factory: Callable[[], str],
    redis_url: str,
    tmp_path_factory: Any,
) -> Iterator[TracedUpload]:
    database_url = empty_database_factory()
    migrations.upgrade(database_url)
    workdir: Path = tmp_path_factory.mktemp("tracing")
    system = System.configure(
        database_url,
        redis_url,
        workdir,
        SAQ_QUEUE_NAME="voice-practice-tracing-test",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    try:
        system.start()
        token_id, user, audio = system.practice_token(LINE, "traced@example.com")
        job_id = system.upload(user, "tokens", token_id, audio, "take.wav")
        events = system.follow(user, job_id)
        assert events[-1].event == "completed", events[-1]
        spans = collector.wait_for(_completed_webhook_published(job_id))
        yield TracedUpload(job_id, spans, system.api.log())
    finally:
        system.stop()


def test_every_span_of_the_job_is_in_the_upload_requests_trace(traced: TracedUpload) -> None:
    of_the_job = {span.trace_id for span in traced.spans if span.attributes.get("job.id") == traced.job_id}

    assert of_the_job == {traced.upload.trace_id}


def test_the_trace_holds_spans_of_the_api_the_worker_and_the_analysis_server(traced: TracedUpload) -> None:
    assert {span.service for span in traced.trace} == {API, WORKER, ANALYSIS}


def test_the_upload_request_is_the_root_of_the_trace(traced: TracedUpload) -> None:
    assert traced.upload.parent_id is None
    assert [span for span in traced.trace if span.parent_id is None] == [traced.upload]


def test_the_outbox_wait_starts_in_the_upload_and_ends_when_the_worker_dispatches(
    traced: TracedUpload,
) -> None:
    [wait] = traced.named(WORKER, "outbox.wait")
    [dispatch] = traced.named(WORKER, "analysis.dispatch")

    assert wait.parent_id == traced.upload.span_id
    assert traced.upload.start_ns <= wait.start_ns <= traced.upload.end_ns
    assert wait.end_ns <= dispatch.start_ns


def test_the_completed_webhook_descends_from_upload_dispatch_and_analysis(traced: TracedUpload) -> None:
    [published] = [
        span
        for span in traced.named(API, "events.publish")
        if span.attributes.get("event.type") == "completed"
    ]

    assert traced.ancestry(published) == [
        (API, traced.upload.name),
        (WORKER, "analysis.dispatch"),
        (ANALYSIS, "POST /v1/analyses"),
        (ANALYSIS, "analysis"),
        (ANALYSIS, "webhook.send"),
        (API, "POST /webhooks/analysis"),
        (API, "events.publish"),
    ]


def test_every_webhook_of_the_job_is_handled_within_its_trace(traced: TracedUpload) -> None:
    sent = traced.named(ANALYSIS, "webhook.send")
    handled = traced.named(API, "POST /webhooks/analysis")

    assert {span.attributes["webhook.type"] for span in sent} >= {
        "analysis.started",
        "analysis.progress",
        "analysis.completed",
    }
    assert {span.parent_id for span in handled} == {span.span_id for span in sent}


def test_each_analysis_stage_is_a_span_of_the_analysis_in_order(traced: TracedUpload) -> None:
    [analysis] = traced.named(ANALYSIS, "analysis")
    stages = sorted(
        (span for span in traced.trace if span.name in STAGE_SPANS), key=lambda span: span.start_ns
    )

    assert [span.name for span in stages] == STAGE_SPANS
    assert {span.parent_id for span in stages} == {analysis.span_id}


def test_the_upload_requests_log_line_carries_its_trace_and_span_ids(traced: TracedUpload) -> None:
    lines = [json.loads(line) for line in traced.api_log.splitlines() if line.startswith("{")]
    [request] = [
        line
        for line in lines
        if line.get("event") == "request" and str(line.get("path", "")).endswith("/upload-audio")
    ]

    assert (request["trace_id"], request["span_id"]) == (traced.upload.trace_id, traced.upload.span_id)
    assert request["request_id"]
