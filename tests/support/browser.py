"""Headless Debian Chromium for the browser tests: where it is, how it is started, fake microphone audio,
and screenshots kept after the run.

The browser is Debian's ``chromium`` package (``make test-deps`` installs it), driven by the Python
Playwright package; Playwright's own browser downloads are never used. Tests use Playwright's async API
on pytest-asyncio's session loop: the sync API leaves its own loop marked as running in the main thread
for as long as it is started, and every async test after it in the same session then fails.

The fake microphone (``--use-file-for-fake-audio-capture``) plays a WAV file:

- PCM 8, 16 or 32 bit integers or 32 bit floats, any sample rate, mono or more channels. Chromium
  resamples it to the 48 kHz mono capture. Any other file, 24 bit PCM included, or a missing one,
  records silence without any error, so :func:`check_fake_microphone_wav` refuses those first.
- It starts from the beginning each time a capture opens (``getUserMedia``, once every earlier track
  of that capture was stopped), not when ``MediaRecorder.start()`` runs, and loops while the capture
  stays open. :func:`write_wav` adds trailing silence so a loop does not run straight into the next
  rendition.
"""

from __future__ import annotations

import os
import re
import struct
import wave
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from playwright.async_api import Page, ViewportSize

    from tests.support.speech import Speech

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "var" / "test-artifacts"
SCREENSHOT_DIR = ARTIFACTS_DIR / "screenshots"

DEFAULT_CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_PATH_VARIABLE = "CHROMIUM_PATH"

PHONE_VIEWPORT: ViewportSize = {"width": 390, "height": 844}
DESKTOP_VIEWPORT: ViewportSize = {"width": 1280, "height": 800}

# As root in a container: no sandbox (it needs user namespaces), no GPU, no /dev/shm (often small),
# nothing that reaches out to Google's services.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)

_WAVE_FORMAT_PCM = 0x0001
_WAVE_FORMAT_IEEE_FLOAT = 0x0003
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


class BrowserUnavailableError(RuntimeError):
    pass


def chromium_executable() -> Path:
    """The Chromium to run: ``$CHROMIUM_PATH``, else Debian's ``/usr/bin/chromium``."""
    configured = os.environ.get(CHROMIUM_PATH_VARIABLE) or DEFAULT_CHROMIUM_PATH
    path = Path(configured)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise BrowserUnavailableError(
            f"no Chromium executable at {path} (set {CHROMIUM_PATH_VARIABLE} to another one). The browser "
            "tests need Debian's chromium package: `make test-deps` installs it, as `make test` does."
        )
    return path


def chromium_args(fake_microphone_wav: Path) -> list[str]:
    """Command-line flags: the sandbox-safe ones, and a fake camera and microphone playing the WAV file,
    with media permission prompts accepted."""
    return [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={fake_microphone_wav.resolve()}",
    ]


def check_fake_microphone_wav(path: Path) -> Path:
    """``path`` if Chromium's fake microphone can play it; raises ValueError otherwise (Chromium would
    silently record silence)."""
    if not path.is_file():
        raise ValueError(f"{path} does not exist")
    data = path.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path} is not a RIFF/WAVE file")
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        if chunk_id == b"fmt ":
            format_tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, offset + 8)
            if format_tag == _WAVE_FORMAT_EXTENSIBLE and size >= 40:
                format_tag = struct.unpack_from("<H", data, offset + 8 + 24)[0]
            playable = (format_tag == _WAVE_FORMAT_PCM and bits in (8, 16, 32)) or (
                format_tag == _WAVE_FORMAT_IEEE_FLOAT and bits == 32
            )
            if not playable or channels < 1 or rate < 1:
                raise ValueError(
                    f"{path}: format {format_tag:#06x}, {bits} bit, {channels} channels, {rate} Hz; Chromium "
                    "plays only 8/16/32 bit integer PCM or 32 bit float"
                )
            return path
        offset += 8 + size + (size & 1)
    raise ValueError(f"{path} has no fmt chunk")


def write_wav(
    path: Path, samples: npt.NDArray[np.floating], sample_rate: int, *, trailing_silence: float = 1.0
) -> Path:
    """Mono float samples in [-1, 1] written as 16 bit PCM, followed by ``trailing_silence`` seconds."""
    import numpy as np

    pcm = np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0)
    pcm = np.concatenate([pcm, np.zeros(round(trailing_silence * sample_rate))])
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes((pcm * 32767).astype("<i2").tobytes())
    return path


def speech_wav(path: Path, speech: Speech, *, trailing_silence: float = 1.0) -> Path:
    """espeak-ng speech (tests/support/speech.py) as a WAV file for the fake microphone."""
    return write_wav(path, speech.samples, speech.sample_rate, trailing_silence=trailing_silence)


def artifact_name(name: str) -> str:
    """``name`` made safe as a file name (test node ids hold slashes, brackets and colons)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_.")[:180] or "page"


async def save_screenshot(page: Page, name: str) -> Path:
    """A full-page PNG of ``page`` in var/test-artifacts/screenshots/ (kept after the run)."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{artifact_name(name)}.png"
    await page.screenshot(path=path, full_page=True)
    return path
