"""The reference analysis server over real HTTP: it downloads, analyses real speech and reports by
signed webhooks, retried until the receiver answers 2xx."""

from __future__ import annotations

import uuid
from functools import cache

import httpx
import numpy as np
import pytest

from tests.integration.reference_analysis.conftest import ALLOWED_BY_NAME_ONLY, AUTH_TOKEN, Submit, final
from tests.support.api_double import ApiDouble, ReceivedWebhook
from tests.support.encoding import encode_audio
from tests.support.speech import SAMPLE_RATE, Voice, synthesize

pytestmark = pytest.mark.slow

LINE = "Please bring the yellow umbrella to the station tomorrow morning."
STAGES = ["downloading", "decoding", "features", "aligning", "scoring"]


@cache
def _reference() -> bytes:
    speech = synthesize(LINE, Voice("en-us"))
    return encode_audio(speech.samples, speech.sample_rate, "wav")


@cache
def _take() -> bytes:
    speech = synthesize(LINE, Voice("en-us+f3", rate=150))
    return encode_audio(speech.samples, speech.sample_rate, "webm")


def _words() -> list[dict[str, object]]:
    return synthesize(LINE, Voice("en-us")).word_timings()


@pytest.fixture(scope="module")
def analysed(analysis_server: str, api_double: ApiDouble) -> tuple[str, list[ReceivedWebhook]]:
    """One job of the same line in another voice, through to its final webhook."""
    job_id = str(uuid.uuid4())
    body = {
        "job_id": job_id,
        "kind": "token",
        "recording": {"url": api_double.serve(f"{job_id}-take", _take()), "content_type": "audio/webm"},
        "reference": {
            "url": api_double.serve(f"{job_id}-reference", _reference()),
            "content_type": "audio/wav",
        },
        "callback_url": api_double.callback_url,
        "text": LINE,
        "words": _words(),
    }
    answer = httpx.post(
        f"{analysis_server}/v1/analyses",
        json=body,
        headers={"Authorization": f"Bearer {AUTH_TOKEN}"},
        timeout=10.0,
    )
    assert answer.status_code == 202, answer.text
    return job_id, api_double.wait_until_finished(job_id)


def test_a_request_is_answered_202_accepted(submit: Submit) -> None:
    submission = submit(_take(), _reference())

    assert (submission.answer.status_code, submission.answer.json()["status"]) == (202, "accepted")


def test_the_server_downloads_the_recording_and_the_reference(
    analysed: tuple[str, list[ReceivedWebhook]], api_double: ApiDouble
) -> None:
    job_id, _ = analysed

    assert {f"{job_id}-take", f"{job_id}-reference"} <= set(api_double.downloads())


def test_the_job_is_reported_started_then_every_stage_then_completed(
    analysed: tuple[str, list[ReceivedWebhook]],
) -> None:
    _, webhooks = analysed

    assert [(hook.type, hook.data.get("stage")) for hook in webhooks] == [
        ("analysis.started", None),
        *[("analysis.progress", stage) for stage in STAGES],
        ("analysis.completed", None),
    ]


def test_every_webhook_carries_a_valid_signature(analysed: tuple[str, list[ReceivedWebhook]]) -> None:
    _, webhooks = analysed

    assert all(hook.signature_valid for hook in webhooks)


def test_the_same_line_in_another_voice_scores_high(analysed: tuple[str, list[ReceivedWebhook]]) -> None:
    _, webhooks = analysed
    scores = final(webhooks).data["result"]["scores"]

    assert min(scores["pronunciation"], scores["completeness"]) >= 75


def test_the_result_has_a_verdict_for_every_reference_word(
    analysed: tuple[str, list[ReceivedWebhook]],
) -> None:
    _, webhooks = analysed
    words = final(webhooks).data["result"]["words"]

    assert [word["index"] for word in words] == list(range(len(_words())))


def test_the_same_job_again_is_answered_duplicate(submit: Submit, api_double: ApiDouble) -> None:
    first = submit(_take(), _reference())
    api_double.wait_until_finished(first.job_id)

    # Several times: a server of more than one process would take some of them for new jobs.
    again = [submit(_take(), _reference(), job_id=first.job_id) for _ in range(6)]

    assert [repeat.answer.json()["status"] for repeat in again] == ["duplicate"] * 6


def test_the_same_job_again_is_not_analysed_again(submit: Submit, api_double: ApiDouble) -> None:
    first = submit(_take(), _reference())
    api_double.wait_until_finished(first.job_id)

    submit(_take(), _reference(), job_id=first.job_id)
    later = submit(_take(), _reference())  # its webhooks arrive after any the repeat would have sent
    api_double.wait_until_finished(later.job_id)

    assert [hook.type for hook in api_double.webhooks(first.job_id)].count("analysis.started") == 1


def test_a_webhook_is_retried_until_the_receiver_answers_2xx(submit: Submit, api_double: ApiDouble) -> None:
    job_id = str(uuid.uuid4())
    api_double.fail_webhooks(job_id, 503, times=2)
    submission = submit(_take(), _reference(), job_id=job_id)

    webhooks = api_double.wait_until_finished(submission.job_id)

    assert [hook.answered for hook in webhooks if hook.type == "analysis.started"] == [503, 503, 200]


def test_a_retried_webhook_keeps_its_webhook_id(submit: Submit, api_double: ApiDouble) -> None:
    job_id = str(uuid.uuid4())
    api_double.fail_webhooks(job_id, 500, times=2)
    submission = submit(_take(), _reference(), job_id=job_id)

    webhooks = api_double.wait_until_finished(submission.job_id)

    assert len({hook.webhook_id for hook in webhooks if hook.type == "analysis.started"}) == 1


def test_a_recording_without_speech_fails_as_no_speech(submit: Submit, api_double: ApiDouble) -> None:
    silence = encode_audio(np.zeros(2 * SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE, "wav")
    submission = submit(silence, _reference())

    assert final(api_double.wait_until_finished(submission.job_id)).data["code"] == "no_speech"


def test_a_recording_that_is_not_audio_fails_as_undecodable(submit: Submit, api_double: ApiDouble) -> None:
    submission = submit(b"RIFF\x00\x00\x00\x00WAVEnot really audio", _reference())

    assert final(api_double.wait_until_finished(submission.job_id)).data["code"] == "undecodable"


def test_a_recording_that_cannot_be_downloaded_fails_as_download_failed(
    submit: Submit, api_double: ApiDouble
) -> None:
    submission = submit(b"", _reference(), recording_url=f"{api_double.url}/audio/missing")

    assert final(api_double.wait_until_finished(submission.job_id)).data["code"] == "download_failed"


def test_a_request_without_the_bearer_token_is_refused(analysis_server: str) -> None:
    answer = httpx.post(f"{analysis_server}/v1/analyses", json={}, timeout=10.0)

    assert answer.status_code == 401


def _refused_field(answer: httpx.Response) -> str:
    assert (answer.status_code, answer.json()["type"].rsplit("/", 1)[-1]) == (422, "destination-not-allowed")
    return str(answer.json()["detail"]).split(":", 1)[0]


def test_a_recording_on_a_host_not_allowed_is_refused_before_any_download(
    submit: Submit, api_double: ApiDouble
) -> None:
    name = f"{uuid.uuid4()}-elsewhere"
    url = api_double.serve(name, b"audio").replace("127.0.0.1", "localhost")

    submission = submit(b"", _reference(), recording_url=url)

    assert _refused_field(submission.answer) == "recording.url"
    assert name not in api_double.downloads()


def test_a_callback_to_the_cloud_metadata_address_is_refused(submit: Submit) -> None:
    submission = submit(_take(), _reference(), callback_url="http://169.254.169.254/latest/meta-data/")

    assert _refused_field(submission.answer) == "callback_url"


def test_an_allowed_host_at_an_address_outside_the_allowed_networks_is_refused(
    submit: Submit, api_double: ApiDouble
) -> None:
    url = api_double.serve(f"{uuid.uuid4()}-private", b"audio").replace("127.0.0.1", ALLOWED_BY_NAME_ONLY)

    submission = submit(b"", _reference(), recording_url=url)

    assert _refused_field(submission.answer) == "recording.url"
    assert "not a public address" in submission.answer.json()["detail"]


def test_a_redirect_to_another_host_is_not_followed(submit: Submit, api_double: ApiDouble) -> None:
    target = f"{uuid.uuid4()}-target"
    elsewhere = api_double.serve(target, _take()).replace("127.0.0.1", "localhost")
    submission = submit(b"", _reference(), recording_url=api_double.redirect(f"{target}-redirect", elsewhere))

    assert final(api_double.wait_until_finished(submission.job_id)).data["code"] == "download_failed"
    assert target not in api_double.downloads()
