"""The evaluation's figures, computed from plain lists of numbers (unit-tested on tiny inputs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def roc_auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """The probability that a random positive scores above a random negative (ties count half)."""
    if not positives or not negatives:
        raise ValueError("need at least one positive and one negative")
    high, low = np.asarray(positives, dtype=float), np.asarray(negatives, dtype=float)
    above = (high[:, None] > low[None, :]).sum()
    tied = (high[:, None] == low[None, :]).sum()
    return float((above + 0.5 * tied) / (high.size * low.size))


def median_gap(positives: Sequence[float], negatives: Sequence[float]) -> float:
    return float(np.median(positives) - np.median(negatives))


@dataclass(frozen=True, slots=True)
class Spread:
    """Median and 90th percentile of a set of values, and how many there were."""

    median: float
    p90: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            return cls(float("nan"), float("nan"), 0)
        array = np.asarray(values, dtype=float)
        return cls(float(np.median(array)), float(np.percentile(array, 90)), int(array.size))


def boundary_errors_ms(predicted: Sequence[float], truth: Sequence[float]) -> list[float]:
    """Absolute differences, in milliseconds, between matching predicted and true times (seconds)."""
    if len(predicted) != len(truth):
        raise ValueError("predicted and true boundaries must pair up")
    return [abs(guess - actual) * 1000.0 for guess, actual in zip(predicted, truth, strict=True)]


@dataclass(frozen=True, slots=True)
class Detection:
    """Recall of the events that happened and false alarms per word where none happened."""

    recall: float
    false_alarm_rate: float
    events: int
    other_words: int


def detection(flags: Sequence[Sequence[bool]], targets: Sequence[int | None]) -> Detection:
    """``flags[i][k]`` says trial ``i`` flagged word ``k``; ``targets[i]`` is the word really affected
    (None when none was). Recall over the targets; false alarms over every other word of every trial."""
    if len(flags) != len(targets):
        raise ValueError("one target per trial")
    hits = events = alarms = others = 0
    for flagged, target in zip(flags, targets, strict=True):
        for index, flag in enumerate(flagged):
            if index == target:
                events += 1
                hits += flag
            else:
                others += 1
                alarms += flag
    return Detection(
        recall=hits / events if events else float("nan"),
        false_alarm_rate=alarms / others if others else float("nan"),
        events=events,
        other_words=others,
    )
