"""Fitting the score mapping (ScoringSettings) to the human pairs of the separation experiments.

The overall score is a weighted mean of the aspects; pronunciation is a logistic curve of the mean
alignment cost over speech. The fit searches a grid of curve midpoints and widths and of aspect
weights for the best separation of same-text from different-text pairs in the worst of the experiments
it is given, among fits whose median gap is at least ``least_gap``; intonation keeps a weight of at
least 0.1 (imitating an actor's melody is what the app is for, even where it does not tell texts apart).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from domain.voice import Scores
from domain.voice.scoring import ScoringSettings

Vector = npt.NDArray[np.float64]
ASPECTS = ("pronunciation", "intonation", "rhythm", "energy", "completeness")
MIDPOINTS = tuple(round(2.6 + 0.1 * step, 2) for step in range(13))
WIDTHS = (0.15, 0.2, 0.25, 0.3, 0.4)
WEIGHTS = {
    "pronunciation": (0.4, 0.5, 0.6, 0.7),
    "intonation": (0.1, 0.15, 0.2),
    "rhythm": (0.05, 0.1, 0.15),
    "energy": (0.05, 0.1),
}


@dataclass(frozen=True, slots=True)
class Labelled:
    """One experiment's pairs: aspect scores and whether the texts were the same."""

    scores: Sequence[Scores]
    same_text: Sequence[bool]


def pronunciation_cost(score: float, settings: ScoringSettings) -> float:
    """The alignment cost a pronunciation score came from (inverting the logistic curve)."""
    share = min(max(score, 0.05), 99.95) / 100.0
    return settings.pronunciation_midpoint + settings.pronunciation_width * math.log(1.0 / share - 1.0)


def fit(
    experiments: Mapping[str, Labelled], measured_with: ScoringSettings, least_gap: float = 25.0
) -> dict[str, object]:
    """The best grid point: its settings and the AUC and median gap it gives each experiment.

    Many grid points separate about equally well: a refit on scores measured under an earlier fit may
    land on a neighbour. Compare the figures, not the settings, before adopting one.
    """
    prepared = {name: _columns(labelled, measured_with) for name, labelled in experiments.items()}
    best: tuple[tuple[float, float], dict[str, object]] | None = None
    for midpoint, width in itertools.product(MIDPOINTS, WIDTHS):
        for weights in _weight_sets():
            figures = {
                name: _separation(columns, midpoint, width, weights) for name, columns in prepared.items()
            }
            worst_auc = min(auc for auc, _ in figures.values())
            worst_gap = min(gap for _, gap in figures.values())
            rank = (float(worst_gap >= least_gap), round(worst_auc, 3), worst_gap)
            if best is None or rank > best[0]:
                best = (
                    rank,
                    {
                        "pronunciation_midpoint": midpoint,
                        "pronunciation_width": width,
                        **{f"weight_{name}": value for name, value in weights.items()},
                        "figures": {
                            name: {"auc": round(auc, 3), "median_gap": round(gap, 1)}
                            for name, (auc, gap) in figures.items()
                        },
                    },
                )
    assert best is not None
    return best[1]


def figures_of(experiments: Mapping[str, Labelled], settings: ScoringSettings) -> dict[str, dict[str, float]]:
    """The AUC and median gap ``settings`` give each experiment, computed as the fit computes them."""
    weights = {name: getattr(settings, f"weight_{name}") for name in ASPECTS}
    figures = {}
    for name, labelled in experiments.items():
        auc, gap = _separation(
            _columns(labelled, settings),
            settings.pronunciation_midpoint,
            settings.pronunciation_width,
            weights,
        )
        figures[name] = {"auc": round(auc, 3), "median_gap": round(gap, 1)}
    return figures


def _weight_sets() -> list[dict[str, float]]:
    sets = []
    for values in itertools.product(*WEIGHTS.values()):
        weights = dict(zip(WEIGHTS, values, strict=True))
        completeness = round(1.0 - sum(values), 2)
        if completeness >= 0.05:
            sets.append({**weights, "completeness": completeness})
    return sets


def _columns(labelled: Labelled, settings: ScoringSettings) -> dict[str, Vector]:
    scores = labelled.scores
    return {
        "cost": np.array([pronunciation_cost(s.pronunciation, settings) for s in scores]),
        "intonation": np.array([np.nan if s.intonation is None else s.intonation for s in scores]),
        "rhythm": np.array([s.rhythm for s in scores]),
        "energy": np.array([s.energy for s in scores]),
        "completeness": np.array([s.completeness for s in scores]),
        "same": np.array(labelled.same_text, dtype=bool),
    }


def _separation(
    columns: Mapping[str, Vector], midpoint: float, width: float, weights: Mapping[str, float]
) -> tuple[float, float]:
    pronunciation = 100.0 / (1.0 + np.exp(np.minimum((columns["cost"] - midpoint) / width, 700.0)))
    judged_intonation = np.isfinite(columns["intonation"])
    total = (
        weights["pronunciation"] * pronunciation
        + weights["intonation"] * np.where(judged_intonation, columns["intonation"], 0.0)
        + weights["rhythm"] * columns["rhythm"]
        + weights["energy"] * columns["energy"]
        + weights["completeness"] * columns["completeness"]
    )
    overall = total / (1.0 - weights["intonation"] * ~judged_intonation)
    same, different = overall[columns["same"]], overall[~columns["same"]]
    above = (same[:, None] > different[None, :]).mean()
    tied = (same[:, None] == different[None, :]).mean()
    return float(above + 0.5 * tied), float(np.median(same) - np.median(different))
