"""Browser tests: a real headless Chromium (Debian's ``chromium``), driven by Playwright's async API.

Tests are ``async def`` and run on pytest-asyncio's session loop, like the rest of the suite (the sync
API would break every async test after it, see tests/support/browser.py). Fixtures:

- ``chromium_path`` (session): the executable, ``$CHROMIUM_PATH`` or ``/usr/bin/chromium``. A missing
  browser fails the tests that need it; they are never skipped.
- ``playwright`` (session): the Playwright driver.
- ``launch_chromium`` (session): ``await launch_chromium(wav) -> Browser``, a headless Chromium whose
  fake microphone plays ``wav``; every browser it launched is closed at the end of the session.
- ``fake_microphone_wav`` (module): the WAV the module's ``browser`` hears; by default a short espeak-ng
  line. Override it in a test module (module or session scope) to make the microphone say something
  else, e.g. ``speech_wav(tmp_path_factory.mktemp("mic") / "line.wav", synthesize(LINE))``.
- ``browser`` (module): ``await launch_chromium(fake_microphone_wav)``.
- ``viewport`` (function): ``PHONE_VIEWPORT`` (390x844); override or parametrize it for another size.
- ``new_page`` (function): ``await new_page(viewport=None, **context_options) -> Page``, a page in a
  context of its own (own cookies and storage) with the microphone allowed; ``context_options`` go to
  ``Browser.new_context`` (``base_url=...``, ``locale=...``).
- ``page`` (function): ``await new_page()`` at ``viewport``; ``desktop_page``: at ``DESKTOP_VIEWPORT``.

When a test fails, each page it opened is saved as ``var/test-artifacts/screenshots/<test>-failed.png``
with its address, console messages and page errors beside it (``.log``); ``BROWSER_SCREENSHOTS=always``
keeps a screenshot of every test. ``await save_screenshot(page, name)`` saves one at any point.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    ViewportSize,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError

from tests.support.browser import (
    DESKTOP_VIEWPORT,
    PHONE_VIEWPORT,
    SCREENSHOT_DIR,
    BrowserUnavailableError,
    artifact_name,
    check_fake_microphone_wav,
    chromium_args,
    chromium_executable,
    save_screenshot,
    speech_wav,
)
from tests.support.speech import synthesize

DEFAULT_MICROPHONE_LINE = "Hello there, this is the test microphone speaking."
ACTION_TIMEOUT_MS = 15_000

LaunchChromium = Callable[[Path], Awaitable[Browser]]
NewPage = Callable[..., Awaitable[Page]]

_call_report = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.when == "call":
        item.stash[_call_report] = report
    return report


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    try:
        return chromium_executable()
    except BrowserUnavailableError as error:
        problem = str(error)
    pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
async def launch_chromium(playwright: Playwright, chromium_path: Path) -> AsyncIterator[LaunchChromium]:
    launched: list[Browser] = []

    async def launch(fake_microphone_wav: Path) -> Browser:
        try:
            check_fake_microphone_wav(fake_microphone_wav)
        except ValueError as error:
            problem = f"the fake microphone cannot play it: {error}"
        else:
            try:
                browser = await playwright.chromium.launch(
                    executable_path=chromium_path,
                    headless=True,
                    args=chromium_args(fake_microphone_wav),
                )
            except PlaywrightError as error:
                problem = f"Chromium at {chromium_path} did not start: {error}"
            else:
                launched.append(browser)
                return browser
        pytest.fail(problem, pytrace=False)

    yield launch
    for browser in launched:
        await browser.close()


@pytest.fixture(scope="module")
def fake_microphone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speech_wav(tmp_path_factory.mktemp("microphone") / "line.wav", synthesize(DEFAULT_MICROPHONE_LINE))


@pytest.fixture(scope="module")
async def browser(launch_chromium: LaunchChromium, fake_microphone_wav: Path) -> Browser:
    return await launch_chromium(fake_microphone_wav)


@pytest.fixture
def viewport() -> ViewportSize:
    return PHONE_VIEWPORT


@pytest.fixture
async def new_page(
    browser: Browser, viewport: ViewportSize, request: pytest.FixtureRequest
) -> AsyncIterator[NewPage]:
    opened: list[tuple[BrowserContext, Page, list[str]]] = []
    default_viewport = viewport

    async def open_page(viewport: ViewportSize | None = None, **context_options: Any) -> Page:
        context = await browser.new_context(viewport=viewport or default_viewport, **context_options)
        await context.grant_permissions(["microphone"])
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        page = await context.new_page()
        log: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            log.append(f"console.{message.type}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: log.append(f"page error: {error}"))
        opened.append((context, page, log))
        return page

    yield open_page

    report = request.node.stash.get(_call_report, None)
    failed = report is not None and report.failed
    if failed or os.environ.get("BROWSER_SCREENSHOTS") == "always":
        for number, (_, page, log) in enumerate(opened):
            name = artifact_name(request.node.nodeid) + (f"-{number}" if len(opened) > 1 else "")
            name += "-failed" if failed else ""
            try:
                path = await save_screenshot(page, name)
            except PlaywrightError as error:
                log.append(f"no screenshot: {error}")
                path = SCREENSHOT_DIR / f"{name}.png"
            if failed:
                path.with_suffix(".log").write_text(f"{page.url}\n" + "\n".join(log) + "\n")
    for context, _, _ in opened:
        await context.close()


@pytest.fixture
async def page(new_page: NewPage) -> Page:
    return await new_page()


@pytest.fixture
async def desktop_page(new_page: NewPage) -> Page:
    return await new_page(DESKTOP_VIEWPORT)
