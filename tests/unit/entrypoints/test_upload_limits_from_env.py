"""TOKEN_/SCRIPT_UPLOAD_MAX_* and UPLOAD_MIN_SECONDS decide which recordings the pipeline refuses."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.audio.decoding import PyAvAudioInspector
from domain.audio import AudioRejectedError, AudioTooLargeError, AudioTooLongError, AudioTooShortError
from domain.catalog import ReferenceKind
from entrypoints.bootstrap import pipeline_settings
from entrypoints.settings import Settings
from tests.support.encoding import encode_audio

RATE = 16000


def _wav(seconds: float) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    return encode_audio((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), RATE, "wav")


def _refusal(env: dict[str, str], kind: ReferenceKind, seconds: float) -> type[AudioRejectedError] | None:
    limits = pipeline_settings(Settings.from_env(env)).limits(kind)
    try:
        PyAvAudioInspector().inspect(_wav(seconds), limits)
    except AudioRejectedError as error:
        return type(error)
    return None


@pytest.mark.parametrize(
    ("env", "kind", "seconds", "refusal"),
    [
        ({"TOKEN_UPLOAD_MAX_SECONDS": "2"}, ReferenceKind.TOKEN, 2.5, AudioTooLongError),
        ({"TOKEN_UPLOAD_MAX_BYTES": "50000"}, ReferenceKind.TOKEN, 2.5, AudioTooLargeError),
        ({"SCRIPT_UPLOAD_MAX_SECONDS": "2"}, ReferenceKind.SCRIPT, 2.5, AudioTooLongError),
        ({"SCRIPT_UPLOAD_MAX_BYTES": "50000"}, ReferenceKind.SCRIPT, 2.5, AudioTooLargeError),
        ({"UPLOAD_MIN_SECONDS": "3"}, ReferenceKind.TOKEN, 2.5, AudioTooShortError),
        ({"UPLOAD_MIN_SECONDS": "3"}, ReferenceKind.SCRIPT, 2.5, AudioTooShortError),
    ],
)
def test_a_limit_from_the_environment_refuses_what_the_default_accepts(
    env: dict[str, str], kind: ReferenceKind, seconds: float, refusal: type[AudioRejectedError]
) -> None:
    assert _refusal({}, kind, seconds) is None
    assert _refusal(env, kind, seconds) is refusal
