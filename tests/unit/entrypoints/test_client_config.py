"""The client config is built from the pipeline's limits and the domain's names, not copies of them."""

from __future__ import annotations

from application.analysis.settings import PipelineSettings
from domain.analysis.jobs import PROGRESS_STAGES
from domain.audio import AudioFormat, AudioLimits
from entrypoints.http.controllers.client_config import ClientConfigOut, RecordingLimitsOut


def test_recording_limits_are_the_pipelines_for_each_kind() -> None:
    pipeline = PipelineSettings(
        token_limits=AudioLimits(1000, 5.0, 0.5), script_limits=AudioLimits(2000, 50.0, 1.0)
    )

    config = ClientConfigOut.of(pipeline)

    assert config.recording_limits == {
        "token": RecordingLimitsOut(max_bytes=1000, max_seconds=5.0, min_seconds=0.5),
        "script": RecordingLimitsOut(max_bytes=2000, max_seconds=50.0, min_seconds=1.0),
    }


def test_every_accepted_format_and_progress_stage_is_listed_in_order() -> None:
    config = ClientConfigOut.of(PipelineSettings())

    assert [audio.name for audio in config.audio_formats] == [audio.value for audio in AudioFormat]
    assert all(audio.file_extensions for audio in config.audio_formats)
    assert config.progress_stages == list(PROGRESS_STAGES)
