"""An API process runs the cyclic collector's youngest generation less often than Python's default, so
objects that live for a stream's wait are not promoted into the generation a full collection scans."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from entrypoints.cli import API_YOUNG_GC_THRESHOLD, collect_young_garbage_less_often


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*before)


def test_the_young_generation_is_collected_less_often_and_the_older_ratios_are_kept(
    thresholds: tuple[int, int, int],
) -> None:
    collect_young_garbage_less_often()

    assert gc.get_threshold() == (API_YOUNG_GC_THRESHOLD, 10, 10)
    assert thresholds[0] < API_YOUNG_GC_THRESHOLD


def test_thousands_of_allocations_run_no_young_collection(thresholds: tuple[int, int, int]) -> None:
    collect_young_garbage_less_often()
    gc.collect()

    burst = [[] for _ in range(5000)]  # tracked objects alive across what used to be 7 collections

    assert gc.get_count()[1] == 0  # young collections run since the last middle one: none
    assert len(burst) == 5000
