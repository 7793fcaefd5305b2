"""The committed calibration is the engine's: same feature version, same score mapping; and the fit works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.evaluation.calibration import Labelled, figures_of, fit, pronunciation_cost

from domain.voice import FeatureConfig, Scores
from domain.voice.scoring import ScoringSettings, logistic_score

CALIBRATION = json.loads(
    (Path(__file__).parents[3] / "bench" / "evaluation" / "calibration.json").read_text()
)


def test_the_calibration_file_was_fitted_under_the_engines_feature_version() -> None:
    assert CALIBRATION["feature_version"] == FeatureConfig().version


def test_the_engine_scores_with_the_calibration_file() -> None:
    fitted = {key: value for key, value in CALIBRATION.items() if key not in {"feature_version", "figures"}}
    assert fitted
    defaults = ScoringSettings()
    assert {key: getattr(defaults, key) for key in fitted} == fitted


def test_a_pronunciation_score_leads_back_to_its_cost() -> None:
    settings = ScoringSettings()
    score = logistic_score(2.8, settings.pronunciation_midpoint, settings.pronunciation_width)
    assert pronunciation_cost(score, settings) == pytest.approx(2.8)


def _scores(pronunciation: float, intonation: float) -> Scores:
    return Scores(0.0, pronunciation, intonation, 80.0, 80.0, 100.0)


def test_the_fit_puts_weight_on_the_aspect_that_tells_texts_apart() -> None:
    measured_with = ScoringSettings()
    same = [_scores(score, intonation) for score, intonation in ((90, 20), (85, 90), (80, 30))]
    different = [_scores(score, intonation) for score, intonation in ((10, 95), (5, 25), (20, 85))]
    fitted = fit({"tiny": Labelled([*same, *different], [True] * 3 + [False] * 3)}, measured_with)
    assert fitted["figures"]["tiny"]["auc"] == 1.0
    assert fitted["figures"]["tiny"]["median_gap"] >= 25
    assert fitted["weight_pronunciation"] > fitted["weight_intonation"]


def test_the_figures_of_the_settings_in_use_are_measured_as_the_fit_measures_them() -> None:
    settings = ScoringSettings()
    same = [_scores(95, 50), _scores(90, 50)]
    different = [_scores(5, 50), _scores(10, 50)]
    figures = figures_of({"tiny": Labelled([*same, *different], [True, True, False, False])}, settings)
    assert figures["tiny"]["auc"] == 1.0
    assert figures["tiny"]["median_gap"] > 50
