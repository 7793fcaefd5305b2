"""The targets are read off a report as the issue states them."""

from __future__ import annotations

from typing import Any

from bench.evaluation.targets import (
    ACROSS_SPEAKERS,
    ROBUSTNESS_CONDITIONS,
    SAME_SPEAKER,
    TIMING_CONDITIONS,
    verdicts,
)


def _report(*, across_auc: float = 0.95, p90: float = 20.0, telephone_delta: float = -3.0) -> dict[str, Any]:
    conditions = {
        name: {"boundary_ms": {"p90": p90}, "overall_delta_from_clean": -1.0} for name in TIMING_CONDITIONS
    }
    conditions |= {
        name: {"boundary_ms": {"p90": 0.0}, "overall_delta_from_clean": -2.0}
        for name in ROBUSTNESS_CONDITIONS
    }
    conditions["telephone band"]["overall_delta_from_clean"] = telephone_delta
    conditions["clean"] = {"overall_min": 100.0, "words_ok": 1.0}
    return {
        "separation": {
            SAME_SPEAKER: {"auc": 0.99, "median_gap": 60.0},
            ACROSS_SPEAKERS: {"auc": across_auc, "median_gap": 40.0},
        },
        "conditions": conditions,
        "omitted_and_inserted_words": {"omission_recall": 0.95, "false_omissions_per_word": 0.01},
        "degradation_on_separate_takes": {name: {"median_delta": -1.0} for name in ROBUSTNESS_CONDITIONS},
    }


def _missed(report: dict[str, Any]) -> list[str]:
    return [verdict.target for verdict in verdicts(report) if not verdict.met]


def test_a_report_within_every_target_misses_none() -> None:
    assert _missed(_report()) == []


def test_each_target_is_missed_on_its_own_figure() -> None:
    assert _missed(_report(across_auc=0.89)) == [f"{ACROSS_SPEAKERS}: AUC >= 0.9"]
    assert _missed(_report(p90=61.0)) == ["word boundary p90 <= 60 ms under tempo 0.8-1.25 and padding"]
    assert _missed(_report(telephone_delta=-10.5)) == ["telephone band: overall within 10 points of clean"]
