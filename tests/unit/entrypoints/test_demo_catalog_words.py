"""Every line and script of the shipped demo catalog has word timings covering its text."""

from __future__ import annotations

import json

import pytest

from domain.wording import first_mismatch
from entrypoints.demo import DEMO_DIR

CATALOG = json.loads((DEMO_DIR / "catalog.json").read_text())
ITEMS = [*CATALOG["tokens"], *CATALOG["scripts"]]


@pytest.mark.parametrize("item", ITEMS, ids=[item["text"][:30] for item in ITEMS])
def test_each_demo_item_has_exactly_the_words_of_its_text(item: dict[str, object]) -> None:
    words = item["words"]
    assert isinstance(words, list)
    assert first_mismatch(str(item["text"]), [word["text"] for word in words]) is None
    assert [word["index"] for word in words] == list(range(len(words)))
    assert all(word["start"] < word["end"] for word in words)
