"""The whole system end to end: upload through the API, the worker relays, the reference analysis server
analyses real speech and reports by webhook, and an SSE client receives the progress and the result.

The API, the worker and the analysis server run as the real processes `make run` starts, against a
freshly migrated database; the speech is espeak-ng's (tests/support/speech.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.persistence import migrations
from tests.support.encoding import encode_audio
from tests.support.full_system import SseEvent, System, own_redis_database
from tests.support.speech import Voice, synthesize

pytestmark = pytest.mark.slow

REDIS_DATABASE = 13
LINE = "Never give up on the things that make you smile, my friend."
PASSAGE = (
    "The old lighthouse keeper climbed the winding stairs every evening, carrying a lamp and a small "
    "notebook. He wrote down the colour of the sky and the names of the ships that passed."
)
REFERENCE_VOICE = Voice("en-us")
STAGES = ["downloading", "decoding", "features", "aligning", "scoring"]


@dataclass(frozen=True, slots=True)
class Analysed:
    events: list[SseEvent]
    job: dict[str, Any]
    word_count: int

    def progress_stages(self) -> list[str]:
        return [event.data["stage"] for event in self.events if event.event == "progress"]

    @property
    def final(self) -> SseEvent:
        return self.events[-1]


@pytest.fixture(scope="module")
def system(
    empty_database_factory: Callable[[], str], redis_url: str, tmp_path_factory: Any
) -> Iterator[System]:
    database_url = empty_database_factory()
    migrations.upgrade(database_url)
    workdir: Path = tmp_path_factory.mktemp("full-system")
    running = System.configure(database_url, own_redis_database(redis_url, REDIS_DATABASE), workdir)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def _analyse(system: System, kind: str, text: str, user_voice: Voice) -> Analysed:
    reference = synthesize(text, REFERENCE_VOICE)
    words = reference.word_timings()
    admin = system.create_admin()
    reference_id = system.create_reference(
        admin, kind, text, words, encode_audio(reference.samples, reference.sample_rate, "wav"), "ref.wav"
    )
    user = system.sign_up(f"{kind}-learner@example.com")
    take = synthesize(text, user_voice)
    job_id = system.upload(
        user, kind, reference_id, encode_audio(take.samples, take.sample_rate, "webm"), "take.webm"
    )
    events = system.follow(user, job_id)
    return Analysed(events, system.job(user, job_id), len(words))


@pytest.fixture(scope="module")
def token_run(system: System) -> Analysed:
    return _analyse(system, "tokens", LINE, Voice("en-us+f3", rate=150))


@pytest.fixture(scope="module")
def script_run(system: System) -> Analysed:
    return _analyse(system, "scripts", PASSAGE, Voice("en-us+m3", rate=175))


def test_a_token_upload_streams_progress_through_every_analysis_stage_in_order(token_run: Analysed) -> None:
    assert token_run.progress_stages() == STAGES


def test_a_token_upload_streams_the_completed_event_with_the_scores(token_run: Analysed) -> None:
    assert token_run.final.event == "completed"
    assert set(token_run.final.data["scores"]) == {
        "pronunciation",
        "intonation",
        "rhythm",
        "energy",
        "completeness",
    }


def test_the_same_line_in_another_voice_scores_high_on_pronunciation(token_run: Analysed) -> None:
    assert token_run.final.data["scores"]["pronunciation"] >= 75


def test_a_completed_token_job_holds_a_result_row_for_every_word(token_run: Analysed) -> None:
    words = token_run.job["result"]["words"]
    assert [word["index"] for word in words] == list(range(token_run.word_count))


def test_a_completed_token_job_finds_nearly_every_word_spoken(token_run: Analysed) -> None:
    statuses = [word["status"] for word in token_run.job["result"]["words"]]
    assert statuses.count("ok") >= 0.8 * len(statuses)


def test_a_script_upload_streams_progress_through_every_analysis_stage_in_order(script_run: Analysed) -> None:
    assert script_run.progress_stages() == STAGES


def test_a_script_upload_completes_with_a_high_pronunciation_score(script_run: Analysed) -> None:
    assert script_run.final.event == "completed"
    assert script_run.final.data["scores"]["pronunciation"] >= 75


def test_a_completed_script_job_holds_a_result_row_for_every_word(script_run: Analysed) -> None:
    words = script_run.job["result"]["words"]
    assert [word["index"] for word in words] == list(range(script_run.word_count))
