"""What an analysis order refuses beyond what its JSON types say."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.unit.application.reference_analysis.fakes import order

from application.reference_analysis.orders import AudioSource
from domain.catalog import Word
from domain.errors import InvalidInputError


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://host/audio", "/relative/path", "http://"])
def test_a_recording_url_that_is_not_absolute_http_is_refused(url: str) -> None:
    with pytest.raises(InvalidInputError):
        replace(order(), recording=AudioSource(url, "audio/webm"))


def test_a_callback_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        replace(order(), callback_url="gopher://api/webhooks")


def test_words_out_of_order_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        order(words=(Word(1, "two", 0.5, 0.9), Word(0, "one", 0.0, 0.4)))


def test_overlapping_words_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        order(words=(Word(0, "one", 0.0, 0.6), Word(1, "two", 0.5, 0.9)))


def test_a_deadline_without_a_utc_offset_is_refused() -> None:
    from datetime import datetime

    with pytest.raises(InvalidInputError):
        replace(order(), deadline=datetime(2026, 1, 1, 12, 0))
