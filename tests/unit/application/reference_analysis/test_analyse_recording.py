"""One order through the analysis: what is reported, in which order, and why a job fails."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from tests.unit.application.reference_analysis.fakes import (
    RECORDING_URL,
    REFERENCE_URL,
    BrokenRunner,
    FakeDecoder,
    FakeFetcher,
    FixedClock,
    InlineRunner,
    RecordingSender,
    order,
)
from tests.unit.domain.voice.synthetic import phrase, silence, vowel

from application.reference_analysis.analyse import AnalyseRecording, AnalysisLimits
from application.reference_analysis.orders import AnalysisOrder
from application.reference_analysis.ports import DownloadError
from application.reference_analysis.reporting import Reporter
from domain.catalog import Word

STAGES = ["downloading", "decoding", "features", "aligning", "scoring"]
# phrase(): 0.3 s of silence, then six syllables of 0.31 s each.
WORDS = (Word(0, "one", 0.30, 0.92), Word(1, "two", 0.92, 1.54), Word(2, "three", 1.54, 2.16))
SIGNALS = {
    b"recording": phrase(seed=0, f0=180.0),
    b"reference": phrase(seed=0),
    b"silence": silence(2.0),
    b"blip": np.concatenate([silence(0.5), vowel(0.1), silence(0.5)]),
    b"narrowband recording": phrase(seed=0, f0=180.0),
}


class Harness:
    def __init__(self, fetched: dict[str, bytes | Exception] | None = None, runner: object = None) -> None:
        self.clock = FixedClock()
        self.sender = RecordingSender()
        self.reporter = Reporter(self.sender, self.clock)
        self.fetcher = FakeFetcher(fetched)
        self.decoder = FakeDecoder(SIGNALS)
        self.analyse = AnalyseRecording(
            self.fetcher,
            self.decoder,
            runner or InlineRunner(),  # type: ignore[arg-type]
            self.reporter,
            self.clock,
            AnalysisLimits(max_download_bytes=1000, max_audio_seconds=30.0),
        )

    async def run(self, analysis_order: AnalysisOrder) -> RecordingSender:
        await self.analyse(analysis_order)
        await self.reporter.drain(5.0)
        return self.sender

    def final(self) -> dict[str, object]:
        return dict(self.sender.notifications[-1].data)


async def _failure_code(fetched: dict[str, bytes | Exception]) -> object:
    harness = Harness(fetched)
    await harness.run(order(words=WORDS))
    return harness.final()["code"]


async def test_a_successful_analysis_reports_started_then_progress_then_completed() -> None:
    sender = await Harness().run(order(words=WORDS))

    assert sender.types() == ["analysis.started", *["analysis.progress"] * 5, "analysis.completed"]


async def test_progress_is_reported_for_every_stage_in_order() -> None:
    sender = await Harness().run(order(words=WORDS))

    assert sender.stages() == STAGES


async def test_progress_percentages_rise_stage_by_stage() -> None:
    sender = await Harness().run(order(words=WORDS))

    percents = [n.data["percent"] for n in sender.notifications if n.type == "analysis.progress"]
    assert percents == sorted(percents)
    assert len(set(percents)) == len(percents)


async def test_the_completed_result_has_a_row_for_every_reference_word() -> None:
    harness = Harness()
    await harness.run(order(words=WORDS))

    result = harness.final()["result"]
    assert isinstance(result, dict)
    assert [(word["index"], word["text"]) for word in result["words"]] == [
        (0, "one"),
        (1, "two"),
        (2, "three"),
    ]


async def test_every_webhook_names_the_job() -> None:
    analysis_order = order(words=WORDS)
    sender = await Harness().run(analysis_order)

    assert {n.data["job_id"] for n in sender.notifications} == {str(analysis_order.job_id)}


async def test_every_webhook_of_a_job_has_an_id_of_its_own() -> None:
    sender = await Harness().run(order(words=WORDS))

    ids = [n.webhook_id for n in sender.notifications]
    assert len(set(ids)) == len(ids)


async def test_a_job_analysed_again_reports_under_the_same_webhook_ids() -> None:
    analysis_order = order(words=WORDS)
    first = await Harness().run(analysis_order)
    second = await Harness().run(analysis_order)

    assert [n.webhook_id for n in first.notifications] == [n.webhook_id for n in second.notifications]


async def test_both_recordings_are_downloaded() -> None:
    harness = Harness()
    await harness.run(order())

    assert sorted(harness.fetcher.fetched) == sorted([RECORDING_URL, REFERENCE_URL])


async def test_a_recording_that_cannot_be_downloaded_fails_the_job_as_download_failed() -> None:
    code = await _failure_code({RECORDING_URL: DownloadError("403"), REFERENCE_URL: b"reference"})

    assert code == "download_failed"


async def test_a_failed_download_is_reported_without_analysing() -> None:
    harness = Harness({RECORDING_URL: DownloadError("403"), REFERENCE_URL: b"reference"})
    await harness.run(order())

    assert harness.sender.stages() == ["downloading"]


async def test_a_recording_over_the_download_limit_fails_the_job_as_too_large() -> None:
    code = await _failure_code({RECORDING_URL: b"x" * 1001, REFERENCE_URL: b"reference"})

    assert code == "too_large"


async def test_an_undecodable_recording_fails_the_job_as_undecodable() -> None:
    code = await _failure_code({RECORDING_URL: b"undecodable", REFERENCE_URL: b"reference"})

    assert code == "undecodable"


async def test_a_recording_over_the_duration_limit_fails_the_job_as_too_long() -> None:
    code = await _failure_code({RECORDING_URL: b"too long", REFERENCE_URL: b"reference"})

    assert code == "too_long"


async def test_a_recording_without_speech_fails_the_job_as_no_speech() -> None:
    code = await _failure_code({RECORDING_URL: b"silence", REFERENCE_URL: b"reference"})

    assert code == "no_speech"


async def test_a_recording_with_too_little_speech_fails_the_job_as_too_short() -> None:
    code = await _failure_code({RECORDING_URL: b"blip", REFERENCE_URL: b"reference"})

    assert code == "too_short"


@pytest.mark.parametrize("reference", [b"undecodable", b"silence", b"too long"])
async def test_an_unusable_reference_fails_the_job_as_reference_unusable(reference: bytes) -> None:
    code = await _failure_code({RECORDING_URL: b"recording", REFERENCE_URL: reference})

    assert code == "reference_unusable"


async def test_a_failure_carries_a_message_for_the_user() -> None:
    harness = Harness({RECORDING_URL: b"silence", REFERENCE_URL: b"reference"})
    await harness.run(order())

    assert "recording" in str(harness.final()["message"])


async def test_a_fault_in_the_analysis_fails_the_job_as_analysis_failed() -> None:
    harness = Harness(runner=BrokenRunner())
    await harness.run(order())

    assert harness.final()["code"] == "analysis_failed"


async def test_an_order_past_its_deadline_fails_as_timed_out() -> None:
    harness = Harness()
    await harness.run(order(deadline=harness.clock.now() - timedelta(seconds=1)))

    assert harness.final()["code"] == "timed_out"


async def test_an_order_past_its_deadline_is_not_analysed() -> None:
    harness = Harness()
    await harness.run(order(deadline=harness.clock.now() - timedelta(seconds=1)))

    assert harness.sender.types() == ["analysis.failed"]


async def test_a_narrowband_recording_is_compared_with_the_reference_over_its_band() -> None:
    harness = Harness({RECORDING_URL: b"narrowband recording", REFERENCE_URL: b"reference"})
    await harness.run(order())

    assert harness.decoder.rates[-2:] == [(b"narrowband recording", 8000), (b"reference", 8000)]


async def test_wideband_recordings_are_compared_at_the_full_rate() -> None:
    harness = Harness()
    await harness.run(order())

    assert harness.decoder.rates == [(b"recording", 16_000), (b"reference", 16_000)]
