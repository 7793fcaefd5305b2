"""Speaker normalisation: the filterbank warp under which a user's voice best matches the reference's."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from domain.voice.alignment import AlignmentSettings, align, pooled
from domain.voice.config import FeatureConfig
from domain.voice.features import Features, Utterance
from domain.voice.mfcc import cepstra


@dataclass(frozen=True, slots=True)
class WarpSearch:
    """Warps from ``lowest`` to ``highest`` (1.25 spans an adult male voice against a woman's or child's).

    First ``steps`` warps evenly spaced on a log scale, then ``refinements`` times the two warps halfway
    to the best one's neighbours; each is judged by aligning frames averaged ``pool`` at a time.
    """

    lowest: float = 0.8
    highest: float = 1.25
    steps: int = 5
    refinements: int = 1
    pool: int = 4


def best_warp(
    reference: Features,
    user: Utterance,
    config: FeatureConfig,
    search: WarpSearch,
    alignment: AlignmentSettings,
) -> float:
    """The warp whose coarse alignment to the reference costs least (the one nearest 1 on ties)."""
    target = pooled(reference.mfcc, search.pool)
    costs: dict[float, float] = {}

    def rank(log_warp: float) -> tuple[float, float]:
        warp = round(math.exp(log_warp), 4)
        if warp not in costs:
            candidate = pooled(cepstra(user.spectra, config, warp), search.pool)
            costs[warp] = align(target, candidate, alignment).normalised_cost
        return costs[warp], abs(log_warp)

    step = (math.log(search.highest) - math.log(search.lowest)) / (search.steps - 1)
    best = min((math.log(search.lowest) + index * step for index in range(search.steps)), key=rank)
    for _ in range(search.refinements):
        step /= 2
        best = min((best - step, best, best + step), key=rank)
    return round(math.exp(best), 4)


def normalised_to(
    reference: Features,
    user: Utterance,
    config: FeatureConfig,
    search: WarpSearch,
    alignment: AlignmentSettings,
) -> tuple[Features, float]:
    """The user's features with MFCC recomputed under the best warp towards ``reference``, and that warp."""
    warp = best_warp(reference, user, config, search, alignment)
    if warp == 1.0:
        return user.features, warp
    return dataclasses.replace(user.features, mfcc=cepstra(user.spectra, config, warp)), warp
