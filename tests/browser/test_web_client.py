"""The web client in a real headless Chromium against the whole system as `make run` starts it.

The API, the worker and the reference analysis server run as real processes with the demo catalog; the
browser signs up, records a demo line through its fake microphone (espeak-ng speaking the line) with
MediaRecorder or picks a file, uploads it, follows the progress over SSE to 100 % and reads the result.
Screenshots of the result pages are saved in var/test-artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Locator, Page, Request, Route, WebSocket, expect

from adapters.persistence import migrations
from tests.browser.conftest import NewPage
from tests.support.browser import DESKTOP_VIEWPORT, save_screenshot, speech_wav
from tests.support.encoding import encode_audio
from tests.support.full_system import USER_PASSWORD, System, own_redis_database
from tests.support.speech import Voice, synthesize

pytestmark = pytest.mark.slow

REDIS_DATABASE = 11
DEMO_CATALOG = Path(__file__).resolve().parents[2] / "src" / "entrypoints" / "demo" / "catalog.json"
LINE = "I never said it would be easy. I said it would be worth it."
SECOND_LINE = "Every ending is just a beginning in disguise."
SCRIPT = "The Rainbow Passage"
LEARNER_VOICE = Voice("en-us+f3", rate=150)
ANALYSIS_WAIT_MS = 90_000
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
ASPECTS = {"Pronunciation", "Intonation", "Rhythm", "Energy", "Completeness"}


@pytest.fixture(scope="module")
def fake_microphone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The microphone says the first demo line, in another voice than the actor's."""
    return speech_wav(tmp_path_factory.mktemp("microphone") / "line.wav", synthesize(LINE, LEARNER_VOICE))


@pytest.fixture(scope="module")
def system(
    empty_database_factory: Callable[[], str], redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    database_url = empty_database_factory()
    migrations.upgrade(database_url)
    workdir = tmp_path_factory.mktemp("web-client-system")
    running = System.configure(database_url, own_redis_database(redis_url, REDIS_DATABASE), workdir)
    try:
        running.cli("seed-demo")
        running.start()
        yield running
    except subprocess.CalledProcessError as error:
        pytest.fail(f"seed-demo failed: {error.stderr.decode(errors='replace')}")
    finally:
        running.stop()


def recorded(folder: Path, text: str, container: str, voice: Voice = LEARNER_VOICE) -> Path:
    """``text`` spoken by espeak-ng in ``voice``, as a file of ``container`` (wav, ogg, webm, ...)."""
    take = synthesize(text, voice)
    path = folder / f"take.{container}"
    path.write_bytes(encode_audio(take.samples, take.sample_rate, container))
    return path


def _demo(kind: str, key: str, value: str) -> dict[str, Any]:
    items: list[dict[str, Any]] = json.loads(DEMO_CATALOG.read_text())[kind]
    return next(item for item in items if item[key] == value)


# --- what a person does ------------------------------------------------------------------------------


async def sign_up(page: Page, system: System, email: str) -> None:
    await page.goto(f"{system.api_url}/")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in").click()
    form = page.get_by_role("form", name="New here? Create an account")
    await form.get_by_label("Your name").fill("Browser Learner")
    await form.get_by_label("Email").fill(email)
    await form.get_by_label("Password").fill(USER_PASSWORD)
    await form.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", level=1, name="Lines from movies")).to_be_visible()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


async def open_line(page: Page, line: str) -> None:
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Lines").click()
    card = page.get_by_role("listitem").filter(has_text=line)
    await card.get_by_role("link", name="Practise this line").click()
    await expect(page.get_by_role("heading", level=1, name="Practise a line")).to_be_visible()


async def choose_file(page: Page, path: Path) -> None:
    await page.get_by_label("Or choose an audio file").set_input_files(path)
    await expect(page.get_by_role("button", name="Analyse my recording")).to_be_enabled()


async def analyse(page: Page, *, double_click: bool = False) -> str:
    """Press "Analyse my recording"; returns the job id the page went to."""
    button = page.get_by_role("button", name="Analyse my recording")
    await (button.dblclick() if double_click else button.click())
    await page.wait_for_url("**/#/jobs/*", timeout=30_000)
    return page.url.rsplit("/", 1)[-1]


async def wait_for_result(page: Page) -> None:
    progress = page.get_by_role("progressbar", name="Analysis progress")
    await expect(progress).to_have_attribute("value", "100", timeout=ANALYSIS_WAIT_MS)
    await expect(page.get_by_role("heading", name="Your result")).to_be_visible(timeout=ANALYSIS_WAIT_MS)


async def record_the_line(page: Page) -> None:
    """Record LINE with the microphone: the fake one says it from the moment the capture opens."""
    await page.get_by_role("button", name="Start recording").click()
    await expect(page.get_by_role("button", name="Stop recording")).to_be_visible()
    await asyncio.sleep(synthesize(LINE, LEARNER_VOICE).duration + 0.8)
    await page.get_by_role("button", name="Stop recording").click()
    await expect(page.get_by_role("status").filter(has_text="Recorded")).to_be_visible()
    await expect(page.get_by_label("Listen to your recording")).to_be_visible()


async def access_token(page: Page) -> dict[str, str]:
    saved = await page.evaluate("localStorage.getItem('vp.session')")
    return {"Authorization": f"Bearer {json.loads(saved)['accessToken']}"}


def _user_jobs(system: System, headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = httpx.get(f"{system.api_url}/v1/jobs", headers=headers, timeout=10.0)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def _path_d(page: Page, selector: str) -> str:
    return await page.locator(selector).get_attribute("d") or ""


# --- the tests -------------------------------------------------------------------------------------


# Every value the progress bar takes, with the stage shown beside it, as the page shows them.
WATCH_PROGRESS = """
window.progressSeen = [];
new MutationObserver(() => {
  const bar = document.getElementById("job-progress");
  const stage = document.querySelector(".progress-panel .stage");
  if (bar && stage) window.progressSeen.push([bar.value, stage.textContent]);
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["value"] });
"""
STAGE_NAMES = [
    "Fetching your recording",
    "Decoding the audio",
    "Measuring your voice",
    "Aligning with the actor",
    "Scoring",
]


async def test_record_a_line_watch_the_progress_reach_100_and_see_the_result_charts(
    page: Page, system: System
) -> None:
    await sign_up(page, system, "recorder@example.com")
    await open_line(page, LINE)
    reference = page.get_by_role("figure", name="Listen to the actor first").locator("audio")
    # The reference plays: the API redirects to a signed storage URL the page's CSP allows.
    played = await reference.evaluate(
        """async (audio) => {
            audio.muted = true;
            await audio.play();
            await new Promise((resolve) => audio.addEventListener("timeupdate", () => audio.currentTime > 0.3 && resolve()));
            audio.pause();
            return [audio.currentTime, audio.duration];
        }"""
    )
    # Storage answers byte ranges, so the player can read the duration (the end of the file) and seek.
    assert played[0] > 0.3
    assert played[1] == pytest.approx(_demo("tokens", "text", LINE)["words"][-1]["end"], abs=1.0)

    await record_the_line(page)
    job_id = await analyse(page, double_click=True)

    await wait_for_result(page)
    await expect(page.locator(".percent")).to_have_text("100 %")
    await expect(page.get_by_role("status").filter(has_text="Done")).to_be_visible()
    overall = float(await page.locator(".overall-score .number").inner_text())
    aspects = set(await page.locator(".scores .aspect").all_inner_texts())
    reference_line = await _path_d(page, ".pitch-chart path.series.reference")
    user_line = await _path_d(page, ".pitch-chart path.series.user")
    words = await page.locator(".words .word").count()
    await save_screenshot(page, "web-client-token-result-phone")

    [job] = _user_jobs(system, await access_token(page))  # the double click made one job
    assert job["id"] == job_id
    assert job["status"] == "completed"
    assert job["recording"]["content_type"].startswith("audio/webm")
    assert overall == pytest.approx(job["result"]["overall"], abs=0.5)
    assert aspects == ASPECTS
    assert reference_line.startswith("M")
    assert user_line.startswith("M")
    assert words == len(_demo("tokens", "text", LINE)["words"])


async def test_an_mp4_recording_like_safaris_is_analysed_too(page: Page, system: System) -> None:
    # Safari's MediaRecorder gives MP4 only; this Chromium can record MP4 too when told nothing else works.
    await page.add_init_script(
        "const supported = MediaRecorder.isTypeSupported.bind(MediaRecorder);"
        "MediaRecorder.isTypeSupported = (type) => type.startsWith('audio/mp4') && supported(type);"
    )
    await sign_up(page, system, "safari@example.com")
    await open_line(page, LINE)
    await record_the_line(page)
    job_id = await analyse(page)
    await wait_for_result(page)

    [job] = _user_jobs(system, await access_token(page))
    assert job["id"] == job_id
    assert job["recording"]["content_type"] == "audio/mp4"
    assert job["result"]["scores"]["completeness"] >= 80


async def test_a_script_read_from_a_file_shows_every_word_coloured_by_status_with_its_score(
    new_page: NewPage, system: System, tmp_path: Path
) -> None:
    page = await new_page(DESKTOP_VIEWPORT)
    script = _demo("scripts", "title", SCRIPT)
    recording = recorded(tmp_path, script["text"], "ogg", Voice("en-us+m3", rate=165))
    await sign_up(page, system, "reader@example.com")

    await page.get_by_role("link", name="Scripts").first.click()
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=SCRIPT))
    await card.get_by_role("link", name="Read this script").click()
    await choose_file(page, recording)
    await analyse(page)
    await wait_for_result(page)
    await save_screenshot(page, "web-client-script-result-desktop")

    words = page.locator(".words .word")
    texts = [text.split(" (")[0] for text in await words.all_text_contents()]
    classes = [await words.nth(i).get_attribute("class") or "" for i in range(await words.count())]
    titles = [await words.nth(i).get_attribute("title") or "" for i in range(await words.count())]
    assert texts == [word["text"] for word in script["words"]]
    assert all(any(f"word--{status}" in c for status in ("ok", "mispronounced", "omitted")) for c in classes)
    assert all(title.endswith("of 100") for title in titles)
    assert sum("word--ok" in c for c in classes) >= 0.5 * len(classes)


async def test_a_lost_upload_answer_is_retried_under_the_same_idempotency_key_and_makes_one_job(
    page: Page, system: System, tmp_path: Path
) -> None:
    recording = recorded(tmp_path, SECOND_LINE, "wav")
    keys: list[str] = []

    async def lose_the_first_answer(route: Route, request: Request) -> None:
        headers = await request.all_headers()
        keys.append(headers.get("idempotency-key", ""))
        if len(keys) > 1:
            await route.continue_()
            return
        # The API gets the first request and creates the job, and the answer is lost on the way back.
        # Chromium does not hand an intercepted request's file parts over, so the test sends the same
        # upload (the same file, key and token) itself, then resets the browser's connection.
        async with httpx.AsyncClient(base_url=system.api_url, timeout=30.0) as http:
            created = await http.post(
                request.url,
                files={"file": (recording.name, recording.read_bytes())},
                headers={key: headers[key] for key in ("authorization", "idempotency-key")},
            )
        assert created.status_code == 202, created.text
        await route.abort("connectionreset")

    await sign_up(page, system, "retrier@example.com")
    await page.route("**/upload-audio", lose_the_first_answer)
    await open_line(page, SECOND_LINE)
    await choose_file(page, recording)
    job_id = await analyse(page)
    await wait_for_result(page)

    jobs = _user_jobs(system, await access_token(page))
    assert len(keys) == 2
    assert keys[0] == keys[1] != ""
    assert [job["id"] for job in jobs] == [job_id]


async def test_history_chart_and_bookmarks_on_my_page(page: Page, system: System, tmp_path: Path) -> None:
    recording = recorded(tmp_path, SECOND_LINE, "webm")
    await sign_up(page, system, "historian@example.com")
    bookmark = (
        page.get_by_role("listitem").filter(has_text=SECOND_LINE).get_by_role("button", name="Bookmark")
    )
    await bookmark.click()
    await expect(bookmark).to_have_attribute("aria-pressed", "true")
    for _ in range(2):
        await open_line(page, SECOND_LINE)
        await choose_file(page, recording)
        await analyse(page)
        await wait_for_result(page)

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="My page").click()
    chart = page.locator("figure.history-chart")
    await expect(chart.locator("circle.point")).to_have_count(2)
    await expect(chart.get_by_role("img", name="Your scores over time")).to_be_visible()
    await expect(page.get_by_role("region", name="Recent recordings").get_by_role("link")).to_have_text(
        [f"“{SECOND_LINE}”"] * 2
    )
    await expect(page.get_by_role("region", name="Bookmarks").get_by_role("link")).to_have_text(
        [f"“{SECOND_LINE}” — Ava Sterling"]
    )
    await save_screenshot(page, "web-client-my-page-phone")

    # Bookmarks show on the catalog after a reload, and can be removed there.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Lines").click()
    await page.reload()
    pressed = page.get_by_role("listitem").filter(has_text=SECOND_LINE).locator("button.bookmark")
    await expect(pressed).to_have_attribute("aria-pressed", "true")
    await pressed.click()
    await expect(pressed).to_have_attribute("aria-pressed", "false")


async def last_event_seen(page: Page, job_id: str, expected: str, within: float = 15.0) -> None:
    """Wait until the page has kept ``expected`` as the job's last event id (the page's CSP forbids
    the eval that ``wait_for_function`` needs)."""
    seen = None
    for _ in range(round(within / 0.05)):
        seen = await page.evaluate(f"sessionStorage.getItem('vp.job-events.{job_id}')")
        if seen == expected:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"the page kept last event id {seen!r}, not {expected!r}")


def _resumes_after(request: Request) -> int | None:
    """The event id an events request resumes after: its Last-Event-ID header, else the query's."""
    if "/events?" not in request.url:
        return None
    header = request.headers.get("last-event-id")
    query = parse_qs(urlsplit(request.url).query).get("last_event_id", [None])[0]
    value = header or query
    return int(value) if value is not None else None


async def test_progress_survives_a_page_reload_and_an_api_restart_by_resuming_after_the_last_event(
    page: Page, system: System, tmp_path: Path
) -> None:
    recording = recorded(tmp_path, LINE, "wav")
    resumed: list[int] = []
    page.on("request", lambda request: resumed.append(after) if (after := _resumes_after(request)) else None)
    await page.add_init_script(WATCH_PROGRESS)
    await sign_up(page, system, "patient@example.com")
    system.worker.terminate()  # nothing is dispatched: the job waits at "queued" (event 1)
    system.worker.wait(30.0)
    try:
        await open_line(page, LINE)
        await choose_file(page, recording)
        job_id = await analyse(page)
        await expect(page.get_by_role("status").filter(has_text="Queued")).to_be_visible()
        # The stream has delivered the queued event (id 1): the page keeps the last id it saw.
        await last_event_seen(page, job_id, "1")

        async with page.expect_request(lambda request: _resumes_after(request) == 1):
            await page.reload()
        await expect(page.get_by_role("status").filter(has_text="Queued")).to_be_visible()

        system.api.terminate()
        system.api.wait(30.0)
        await expect(page.get_by_text("Connection lost; reconnecting…")).to_be_visible()
        resumed.clear()
        system.api.start()
    finally:
        system.worker.start()

    await wait_for_result(page)
    await expect(page.get_by_text("Connection lost; reconnecting…")).to_be_hidden()
    seen: list[list[Any]] = await page.evaluate("window.progressSeen")
    assert resumed, "no stream was reopened after the API restarted"
    assert min(resumed) >= 1
    # The page was watching before the analysis began: the bar moved with the stream's progress
    # events (live, or replayed after the last id when the stream came back), through every stage by
    # name, never backwards.
    values = [value for value, _ in seen]
    assert values == sorted(values)
    assert values[-1] == 100
    stages_under_way = {stage for value, stage in seen if 0 < value < 100}
    assert [stage for stage in STAGE_NAMES if stage in stages_under_way] == STAGE_NAMES


async def test_every_view_passes_the_axe_accessibility_checks_and_fits_a_phone(
    page: Page, system: System, tmp_path: Path
) -> None:
    """axe-core's WCAG 2.1 A and AA rules on each view, with a result and a history to show."""
    recording = recorded(tmp_path, SECOND_LINE, "wav")
    checked: dict[str, list[str]] = {}

    async def check(view: str) -> None:
        results = await Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
        assert len(results.response["passes"]) >= 10, f"axe checked next to nothing on the {view} view"
        checked[view] = [
            f"{rule['id']}: {rule['help']} ({len(rule['nodes'])} elements)"
            for rule in results.response["violations"]
        ]
        # Nothing is wider than the phone: no sideways scrolling.
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            checked[view].append(f"the page is {overflow} px wider than the screen")

    await page.goto(f"{system.api_url}/#/signin")
    await expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    await check("sign in")
    await sign_up(page, system, "inclusive@example.com")
    await check("lines")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Scripts").click()
    await expect(page.get_by_role("heading", level=1, name="Scripts to read")).to_be_visible()
    await check("scripts")
    await open_line(page, SECOND_LINE)
    await choose_file(page, recording)
    await check("practice")
    await analyse(page)
    await wait_for_result(page)
    await page.get_by_text("Show the numbers").click()
    await check("result")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="My page").click()
    await expect(page.locator("figure.history-chart")).to_be_visible()
    await check("my page")

    assert checked == {view: [] for view in checked}
    assert len(checked) == 6


async def test_signing_out_and_back_in_returns_to_the_page_that_asked(page: Page, system: System) -> None:
    await sign_up(page, system, "returning@example.com")
    await page.get_by_role("button", name="Sign out").click()
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="My page").click()
    # My page sent the signed-out visitor to sign in, asking to come back.
    await expect(page.locator("main")).to_have_attribute("data-route", "#/signin?next=%23%2Fme")

    form = page.get_by_role("form", name="Sign in")
    await form.get_by_label("Email").fill("returning@example.com")
    await form.get_by_label("Password").fill("not the password")
    await form.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("email or password is incorrect")
    await form.get_by_label("Password").fill(USER_PASSWORD)
    await form.get_by_role("button", name="Sign in").click()

    await expect(page.get_by_role("heading", level=1, name="Hello, Browser Learner")).to_be_visible()
    assert page.url.endswith("#/me")


async def test_a_file_that_is_not_audio_is_refused_with_the_apis_reason_and_no_job(
    page: Page, system: System, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.webm"
    notes.write_text("these are my lines, not a recording\n")
    await sign_up(page, system, "confused@example.com")
    await open_line(page, LINE)
    await choose_file(page, notes)

    await page.get_by_role("button", name="Analyse my recording").click()

    await expect(page.get_by_role("alert")).to_contain_text("not audio in a supported format")
    await expect(page.get_by_role("button", name="Analyse my recording")).to_be_enabled()
    assert "#/tokens/" in page.url
    assert _user_jobs(system, await access_token(page)) == []


async def test_a_recording_without_speech_ends_in_a_failure_the_page_explains(
    page: Page, system: System, tmp_path: Path
) -> None:
    silence = tmp_path / "silence.wav"
    silence.write_bytes(encode_audio(np.zeros(16_000 * 2, dtype=np.float32), 16_000, "wav"))
    await sign_up(page, system, "silent@example.com")
    await open_line(page, LINE)
    await choose_file(page, silence)
    job_id = await analyse(page)

    await expect(page.get_by_role("alert")).to_contain_text("The analysis failed", timeout=ANALYSIS_WAIT_MS)
    await expect(page.get_by_role("status").filter(has_text="Failed")).to_be_visible()
    await expect(page.get_by_role("link", name="Try again")).to_have_attribute(
        "href", re.compile("#/tokens/")
    )
    [job] = _user_jobs(system, await access_token(page))
    assert (job["id"], job["status"]) == (job_id, "failed")
    await expect(page.get_by_role("alert")).to_contain_text(job["failure"]["reason"])


async def test_a_view_still_loading_when_the_user_moves_on_does_not_paint_over_the_next(
    page: Page, system: System
) -> None:
    answered = asyncio.Event()

    async def slow_job(route: Route) -> None:
        await asyncio.sleep(1.0)
        await route.fulfill(
            status=404, json={"type": "/problems/not-found", "title": "Not Found", "status": 404}
        )
        answered.set()

    await sign_up(page, system, "impatient@example.com")
    await page.route("**/v1/jobs/*", slow_job)
    await page.goto(f"{system.api_url}/#/jobs/{'0' * 8}-0000-7000-8000-{'0' * 12}")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Scripts").click()
    await expect(page.get_by_role("heading", level=1, name="Scripts to read")).to_be_visible()
    async with asyncio.timeout(10):
        await answered.wait()

    await expect(page.get_by_role("heading", level=1, name="Scripts to read")).to_be_visible()
    await expect(page.get_by_role("heading", level=1, name="Something went wrong")).to_have_count(0)
    assert await page.title() == "Scripts to read · Voice practice"


async def test_the_page_takes_its_limits_from_the_apis_client_config(page: Page, system: System) -> None:
    async def smaller_limits(route: Route) -> None:
        response = await route.fetch()
        config = await response.json()
        config["text_limits"]["search_max"] = 7
        config["text_limits"]["password_min"] = 12
        config["recording_limits"]["token"]["max_seconds"] = 2
        await route.fulfill(response=response, json=config)

    await page.route("**/v1/client-config", smaller_limits)
    await page.goto(f"{system.api_url}/#/signin")
    new_password = page.get_by_role("form", name="New here? Create an account").get_by_label("Password")
    await expect(new_password).to_have_attribute("minlength", "12")
    await expect(page.get_by_text("Password (at least 12 characters)")).to_be_visible()
    await sign_up(page, system, "limited@example.com")
    await expect(page.get_by_role("searchbox", name="Search lines")).to_have_attribute("maxlength", "7")

    await open_line(page, LINE)
    await expect(page.get_by_label("Or choose an audio file")).to_have_attribute(
        "accept", re.compile(r"\.opus")
    )
    await page.get_by_role("button", name="Start recording").click()

    # The recorder stopped by itself at the limit the config gave, not the API's default of 30 s.
    await expect(page.get_by_role("status").filter(has_text="Stopped at the 2 second limit")).to_be_visible(
        timeout=10_000
    )


async def test_a_large_script_reading_goes_up_in_parts_and_a_lost_part_is_sent_again(
    new_page: NewPage, system: System, tmp_path: Path
) -> None:
    page = await new_page(DESKTOP_VIEWPORT)
    script = _demo("scripts", "title", SCRIPT)
    recording = wide_recording(tmp_path, script["text"], size_bytes=7 * 1024 * 1024)
    part_puts: list[int] = []

    async def lose_the_first_try_of_part_2(route: Route, request: Request) -> None:
        number = int(parse_qs(urlsplit(request.url).query)["partNumber"][0])
        part_puts.append(number)
        if number == 2 and part_puts.count(2) == 1:
            await route.abort("connectionreset")  # the phone lost its network during this part
            return
        await route.continue_()

    await sign_up(page, system, "large-reader@example.com")
    await page.route(re.compile(r".*/storage/.*partNumber=.*"), lose_the_first_try_of_part_2)
    await page.get_by_role("link", name="Scripts").first.click()
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=SCRIPT))
    await card.get_by_role("link", name="Read this script").click()
    await choose_file(page, recording)
    job_id = await analyse(page)
    await wait_for_result(page)

    jobs = _user_jobs(system, await access_token(page))
    assert sorted(part_puts) == [1, 2, 2]
    assert [(job["id"], job["recording"]["size"]) for job in jobs] == [(job_id, recording.stat().st_size)]


def wide_recording(folder: Path, text: str, size_bytes: int) -> Path:
    """``text`` spoken, as a 4x-oversampled stereo WAV padded with silence to ``size_bytes`` (a large
    file of a short reading: the script limit is two minutes)."""
    take = synthesize(text, Voice("en-us+m3", rate=165))
    rate, channels = take.sample_rate * 4, 2
    speech = np.repeat((np.clip(take.samples, -1, 1) * 32767).astype("<i2"), 4)
    frames = (size_bytes - 44) // (2 * channels)
    padded = np.concatenate([speech, np.zeros(max(frames - len(speech), 0), dtype="<i2")])
    path = folder / "long-take.wav"
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(np.repeat(padded, channels).tobytes())
    return path


# --- My page follows the live feed -------------------------------------------------------------------

# Every text a job's status badge on My page takes, and whether it changed on the badge that showed the
# text before (in place) or on a new one (My page loaded again). Sockets are kept so a test can cut them.
WATCH_MY_PAGE = """
window.statusesSeen = [];
const badges = new Map();
new MutationObserver(() => {
  for (const badge of document.querySelectorAll("[data-job-id] .job-status")) {
    const jobId = badge.closest("[data-job-id]").dataset.jobId;
    const before = window.statusesSeen.findLast(([id]) => id === jobId);
    if (before && before[1] === badge.textContent && badges.get(jobId) === badge) continue;
    window.statusesSeen.push([jobId, badge.textContent, badges.get(jobId) === badge]);
    badges.set(jobId, badge);
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
window.pageSockets = [];
const PageWebSocket = window.WebSocket;
window.WebSocket = class extends PageWebSocket {
  constructor(...args) {
    super(...args);
    window.pageSockets.push(this);
  }
};
"""
SCORE = re.compile(r"^\d+\.\d / 100$")


class FeedSockets:
    """The page's live-feed WebSockets as the browser sees them: each one's address and messages."""

    def __init__(self, page: Page) -> None:
        self.urls: list[str] = []
        self.messages: list[list[str]] = []
        page.on("websocket", self._opened)

    def _opened(self, socket: WebSocket) -> None:
        if "/v1/notifications" not in socket.url:
            return
        received: list[str] = []
        self.urls.append(socket.url)
        self.messages.append(received)
        socket.on("framereceived", lambda payload: received.append(str(payload)))

    async def following(self, within: float = 15.0) -> None:
        """Wait until the newest feed socket has had its first message: the feed has started and is
        subscribed, so whatever commits from now on reaches the page."""
        for _ in range(round(within / 0.05)):
            if self.messages and self.messages[-1]:
                return
            await asyncio.sleep(0.05)
        pytest.fail(f"the page's feed sent nothing (sockets: {self.urls})")


async def on_my_page_following_its_feed(page: Page, system: System, email: str) -> FeedSockets:
    """Sign up as ``email`` and open My page (watched by WATCH_MY_PAGE) once its feed follows."""
    feed = FeedSockets(page)
    await page.add_init_script(WATCH_MY_PAGE)
    await sign_up(page, system, email)
    await open_my_page(page)
    await feed.following()
    return feed


async def open_my_page(page: Page) -> None:
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="My page").click()
    await expect(page.get_by_role("heading", level=1, name="Hello, Browser Learner")).to_be_visible()
    await page.evaluate("window.stayedOnThisDocument = true")


def _token_id(system: System, text: str) -> str:
    answer = httpx.get(f"{system.api_url}/v1/tokens", params={"limit": 100}, timeout=10.0)
    assert answer.status_code == 200, answer.text
    return next(item["id"] for item in answer.json()["items"] if item["text"] == text)


async def upload_elsewhere(page: Page, system: System, take: bytes) -> str:
    """Upload ``take`` of SECOND_LINE as the page's user over the API (as the phone would, not through
    this page); returns the job id."""
    user, token_id = await access_token(page), _token_id(system, SECOND_LINE)
    return await asyncio.to_thread(system.upload, user, "tokens", token_id, take, "take.wav")


def recent_status(page: Page, job_id: str) -> Locator:
    recent = page.get_by_role("region", name="Recent recordings")
    return recent.locator(f'[data-job-id="{job_id}"] .job-status')


async def test_my_page_shows_a_recording_uploaded_elsewhere_and_its_status_moving_on_in_place(
    page: Page, system: System, tmp_path: Path
) -> None:
    take = recorded(tmp_path, SECOND_LINE, "wav").read_bytes()
    feed = await on_my_page_following_its_feed(page, system, "follower@example.com")
    await expect(page.get_by_text("None yet: pick a line to practise.")).to_be_visible()

    system.worker.terminate()  # the job waits at "queued" until the worker is back
    system.worker.wait(30.0)
    try:
        # Uploaded from the phone (over the API, not through this page).
        job_id = await upload_elsewhere(page, system, take)
        await expect(recent_status(page, job_id)).to_have_text("queued", timeout=30_000)
        await feed.following()
    finally:
        system.worker.start()

    await expect(recent_status(page, job_id)).to_have_text(SCORE, timeout=ANALYSIS_WAIT_MS)
    seen: list[list[Any]] = await page.evaluate("window.statusesSeen")
    assert await page.evaluate("window.stayedOnThisDocument") is True
    texts = [text for id_, text, _ in seen if id_ == job_id]
    in_place = [text for id_, text, same_badge in seen if id_ == job_id and same_badge]
    assert texts[0] == "queued"
    assert SCORE.match(texts[-1])
    # The analysis's progress was shown on the badge that said "queued", as its events came.
    assert any(re.fullmatch(r"\d+%", text) for text in in_place), texts


async def test_my_page_misses_no_change_while_it_is_loading_again_for_a_new_recording(
    page: Page, system: System, tmp_path: Path
) -> None:
    take = recorded(tmp_path, SECOND_LINE, "wav").read_bytes()
    names_asked, names_answer = asyncio.Event(), asyncio.Event()

    async def slow_line_name(route: Route) -> None:
        # The new recording's line name is what My page asks last while it loads again.
        names_asked.set()
        await names_answer.wait()
        await route.continue_()

    await on_my_page_following_its_feed(page, system, "busy-phone@example.com")
    await page.route("**/v1/tokens/*", slow_line_name)

    system.worker.terminate()  # the page loads the job while it is queued
    system.worker.wait(30.0)
    try:
        job_id = await upload_elsewhere(page, system, take)
        async with asyncio.timeout(30):
            await names_asked.wait()
    finally:
        system.worker.start()
    # The analysis ends while the page is still loading what it read before.
    events = await asyncio.to_thread(system.follow, await access_token(page), job_id)
    names_answer.set()

    assert events[-1].event == "completed"
    await expect(recent_status(page, job_id)).to_have_text(SCORE, timeout=ANALYSIS_WAIT_MS)
    assert await page.evaluate("window.stayedOnThisDocument") is True


async def analysed_while_the_feed_is_cut(page: Page, system: System, take: bytes) -> str:
    """Cut the page's feed socket (from the page, as a lost network would), and hold its reconnection
    (the ticket it asks first) until ``take``, uploaded elsewhere, has been analysed; returns the job id."""
    tickets_asked, tickets_answer = asyncio.Event(), asyncio.Event()

    async def slow_feed_ticket(route: Route) -> None:
        tickets_asked.set()
        await tickets_answer.wait()
        await route.continue_()

    await page.route("**/v1/events/tickets", slow_feed_ticket)
    await page.evaluate("window.pageSockets.forEach((socket) => socket.close())")
    async with asyncio.timeout(30):
        await tickets_asked.wait()
    job_id = await upload_elsewhere(page, system, take)
    events = await asyncio.to_thread(system.follow, await access_token(page), job_id)
    assert events[-1].event == "completed"
    tickets_answer.set()
    return job_id


async def test_my_page_resumes_its_feed_after_the_socket_is_cut_and_misses_no_change(
    page: Page, system: System, tmp_path: Path
) -> None:
    take = recorded(tmp_path, SECOND_LINE, "wav").read_bytes()
    feed = await on_my_page_following_its_feed(page, system, "unsteady@example.com")
    first = await upload_elsewhere(page, system, take)
    await expect(recent_status(page, first)).to_have_text(SCORE, timeout=ANALYSIS_WAIT_MS)

    second = await analysed_while_the_feed_is_cut(page, system, take)

    await expect(recent_status(page, second)).to_have_text(SCORE, timeout=ANALYSIS_WAIT_MS)
    await expect(recent_status(page, first)).to_have_text(SCORE)
    assert await page.evaluate("window.stayedOnThisDocument") is True
    # It resumed after the last event it had seen, not from the present.
    assert len(feed.urls) == 2
    assert "cursor=now" not in feed.urls[-1]


async def test_my_page_cut_from_its_feed_before_any_event_loads_again_when_back(
    page: Page, system: System, tmp_path: Path
) -> None:
    take = recorded(tmp_path, SECOND_LINE, "wav").read_bytes()
    await on_my_page_following_its_feed(page, system, "offline-at-once@example.com")

    # No event came before the cut: there is no cursor to resume from, the feed starts at the present.
    job_id = await analysed_while_the_feed_is_cut(page, system, take)

    await expect(recent_status(page, job_id)).to_have_text(SCORE, timeout=ANALYSIS_WAIT_MS)
    assert await page.evaluate("window.stayedOnThisDocument") is True


async def test_my_page_says_when_it_cannot_be_brought_up_to_date_and_tries_again_until_it_is(
    page: Page, system: System, tmp_path: Path
) -> None:
    take = recorded(tmp_path, SECOND_LINE, "wav").read_bytes()
    await on_my_page_following_its_feed(page, system, "outage-watcher@example.com")
    refused = asyncio.Event()

    async def api_unavailable(route: Route) -> None:
        refused.set()
        await route.fulfill(
            status=503,
            content_type="application/problem+json",
            body='{"title": "Service Unavailable", "status": 503, "detail": "The database is not answering."}',
        )

    await page.route("**/v1/mypage", api_unavailable)
    job_id = await upload_elsewhere(page, system, take)
    events = await asyncio.to_thread(system.follow, await access_token(page), job_id)
    assert events[-1].event == "completed"
    # The job's last change has come; one more load is refused after it (that change's, or a retry).
    refused.clear()
    async with asyncio.timeout(30):
        await refused.wait()

    notice = page.get_by_role("status").filter(has_text="could not be brought up to date")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("The database is not answering.")
    # What it showed stays: the heading, and no recording yet.
    await expect(page.get_by_role("heading", level=1, name="Hello, Browser Learner")).to_be_visible()
    await expect(page.get_by_text("None yet: pick a line to practise.")).to_be_visible()

    await page.unroute("**/v1/mypage", api_unavailable)

    # Tried again on its own: no change is left to prompt a load.
    await expect(recent_status(page, job_id)).to_have_text(SCORE, timeout=ANALYSIS_WAIT_MS)
    await expect(notice).to_be_hidden()
    assert await page.evaluate("window.stayedOnThisDocument") is True
