"""The evaluation's metric code on tiny constructed inputs."""

from __future__ import annotations

import math

import pytest
from bench.evaluation.metrics import Detection, Spread, boundary_errors_ms, detection, median_gap, roc_auc
from bench.evaluation.phones import word_flag_auc


def test_auc_is_one_when_every_positive_outscores_every_negative() -> None:
    assert roc_auc([90, 80], [10, 20, 79]) == 1.0


def test_auc_is_zero_when_every_negative_outscores_every_positive() -> None:
    assert roc_auc([10], [20, 30]) == 0.0


def test_auc_counts_ties_as_half() -> None:
    assert roc_auc([50, 70], [50, 60]) == pytest.approx((0.5 + 0 + 1 + 1) / 4)


def test_auc_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="at least one"):
        roc_auc([], [1.0])


def test_median_gap_is_the_difference_of_the_medians() -> None:
    assert median_gap([80, 90, 100], [10, 30]) == 70.0


def test_spread_reports_median_and_90th_percentile() -> None:
    spread = Spread.of([float(value) for value in range(11)])
    assert (spread.median, spread.p90, spread.count) == (5.0, 9.0, 11)
    assert math.isnan(Spread.of([]).median)


def test_boundary_errors_are_absolute_milliseconds() -> None:
    assert boundary_errors_ms([1.0, 2.05], [1.02, 2.0]) == pytest.approx([20.0, 50.0])
    with pytest.raises(ValueError, match="pair up"):
        boundary_errors_ms([1.0], [])


def test_detection_counts_hits_on_targets_and_alarms_on_other_words() -> None:
    flags = [[False, True, False], [False, False, False], [True, False, False, False]]
    found = detection(flags, [1, 2, None])
    assert found == Detection(recall=0.5, false_alarm_rate=1 / 8, events=2, other_words=8)


def test_the_altered_word_auc_ranks_each_trials_altered_word_against_every_intact_word() -> None:
    # badness per word (higher: worse); the altered word of each trial is the target
    perfect = [[0.1, 0.9, 0.2], [0.3, 0.2, 0.8]]
    assert word_flag_auc(perfect, [1, 2]) == 1.0
    assert word_flag_auc(perfect, [0, 0]) == 0.25  # 0.1 beats none of the four intact words, 0.3 two
    assert word_flag_auc([[0.5, 0.5, 0.5]], [1]) == 0.5
