"""One analysis order from download to the final webhook."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from application.ports.system import Clock
from application.reference_analysis import outcomes
from application.reference_analysis.audio_analysis import AudioAnalysis
from application.reference_analysis.orders import AnalysisOrder, AudioSource
from application.reference_analysis.outcomes import Completed, Failure, Outcome, Subject
from application.reference_analysis.ports import (
    AudioDecoder,
    AudioFetcher,
    CpuRunner,
    DownloadError,
    StageCallback,
)
from application.reference_analysis.reporting import Reporter
from shared_kernel import tracing

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AnalysisLimits:
    """The largest download and the longest audio (either recording) a job may bring."""

    max_download_bytes: int = 32 * 1024 * 1024
    max_audio_seconds: float = 180.0


class StageTimeline:
    """Reports each stage as it is entered and traces it as a span that ends where the next begins.

    The stages are entered in the analysis process and relayed to the event loop, outside the span
    of the job, so their spans are written afterwards, as children of the span current at creation.
    """

    def __init__(self, clock: Clock, report: StageCallback) -> None:
        self._clock = clock
        self._report = report
        self._parent = tracing.current_traceparent()
        self._current: tuple[str, datetime] | None = None

    def enter(self, stage: str) -> None:
        self._end_current()
        self._current = (stage, self._clock.now())
        self._report(stage)

    def close(self) -> None:
        self._end_current()
        self._current = None

    def _end_current(self) -> None:
        if self._current is not None:
            stage, start = self._current
            tracing.record(f"analysis.{stage}", parent=self._parent, start=start, end=self._clock.now())


class AnalyseRecording:
    """Reports started, downloads both recordings, analyses them off the event loop, reports the outcome.

    Progress is reported on entering each stage (downloading, decoding, features, aligning, scoring).
    Every way a job can end is reported: a failure the user can act on, or ``analysis_failed`` for a
    fault of ours (logged). An order whose deadline has passed is failed as ``timed_out`` unanalysed.
    """

    def __init__(
        self,
        fetcher: AudioFetcher,
        decoder: AudioDecoder,
        runner: CpuRunner,
        reporter: Reporter,
        clock: Clock,
        limits: AnalysisLimits | None = None,
    ) -> None:
        self._fetcher = fetcher
        self._decoder = decoder
        self._runner = runner
        self._reporter = reporter
        self._clock = clock
        self._limits = limits or AnalysisLimits()

    async def __call__(self, order: AnalysisOrder) -> Outcome:
        attributes = {"job.id": str(order.job_id), "job.kind": order.kind.value}
        with tracing.span("analysis", parent=order.traceparent, attributes=attributes):
            return await self._traced(order)

    async def _traced(self, order: AnalysisOrder) -> Outcome:
        reports = self._reporter.for_job(order.job_id, order.callback_url, tracing.current_traceparent())
        stages = StageTimeline(self._clock, reports.progress)
        began = time.perf_counter()
        if order.deadline is not None and self._clock.now() >= order.deadline:
            outcome: Outcome = outcomes.timed_out()
        else:
            reports.started()
            try:
                outcome = await self._analyse(order, stages.enter)
            except Exception:
                logger.exception("analysis of job %s failed", order.job_id)
                outcome = outcomes.unexpected()
            finally:
                stages.close()
        reports.finished(outcome)
        logger.info(
            "job %s analysed in %.0f ms: %s",
            order.job_id,
            (time.perf_counter() - began) * 1000,
            "completed" if isinstance(outcome, Completed) else outcome.code,
        )
        return outcome

    async def _analyse(self, order: AnalysisOrder, progress: StageCallback) -> Outcome:
        progress("downloading")
        recording, reference = await asyncio.gather(
            self._download(order.recording, "user"), self._download(order.reference, "reference")
        )
        if isinstance(recording, Failure):
            return recording
        if isinstance(reference, Failure):
            return reference
        task = AudioAnalysis(recording, reference, order.words, self._decoder, self._limits.max_audio_seconds)
        return await self._runner.run(task, progress)

    async def _download(self, source: AudioSource, subject: Subject) -> bytes | Failure:
        try:
            return await self._fetcher.fetch(source.url, self._limits.max_download_bytes)
        except DownloadError as error:
            logger.warning("download of the %s recording failed: %s", subject, error.detail)
            return outcomes.too_large(subject) if error.too_large else outcomes.download_failed()
