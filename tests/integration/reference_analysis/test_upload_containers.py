"""Every container a client may upload, analysed by the reference analysis server: the same text in
another voice completes with a high pronunciation score (issue 4, "Container coverage")."""

from __future__ import annotations

from functools import cache

import pytest

from tests.integration.reference_analysis.conftest import Submit, final
from tests.support.api_double import ApiDouble
from tests.support.encoding import ENCODABLE_FORMATS, encode_audio, missing_encoder
from tests.support.speech import Voice, synthesize

pytestmark = pytest.mark.slow

LINE = "She sells sea shells by the sea shore every summer morning."
REFERENCE = Voice("en-us")
OTHER_VOICE = Voice("en-gb", rate=170)


@cache
def _reference() -> bytes:
    speech = synthesize(LINE, REFERENCE)
    return encode_audio(speech.samples, speech.sample_rate, "ogg")


@pytest.mark.parametrize("fmt", ENCODABLE_FORMATS)
def test_the_same_text_in_another_voice_scores_high_on_pronunciation_from_every_container(
    fmt: str, submit: Submit, api_double: ApiDouble
) -> None:
    if (encoder := missing_encoder(fmt)) is not None:
        pytest.skip(f"the bundled FFmpeg has no {encoder} encoder")
    take = synthesize(LINE, OTHER_VOICE)
    submission = submit(
        encode_audio(take.samples, take.sample_rate, fmt),
        _reference(),
        synthesize(LINE, REFERENCE).word_timings(),
    )

    outcome = final(api_double.wait_until_finished(submission.job_id, timeout=60.0))

    assert outcome.type == "analysis.completed", outcome.data
    assert outcome.data["result"]["scores"]["pronunciation"] >= 70
