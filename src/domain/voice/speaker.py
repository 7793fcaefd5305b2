"""Speaker normalisation: the filterbank warp under which a user's voice best matches the reference's."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from domain.voice.alignment import AlignmentSettings, alignment_costs, pooled
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

    def ranked(log_warps: list[float]) -> float:
        """The best of ``log_warps``, the new ones' alignments computed together."""
        warps = {log_warp: round(math.exp(log_warp), 4) for log_warp in log_warps}
        new = sorted({warp for warp in warps.values() if warp not in costs})
        if new:
            candidates = [pooled(cepstra(user.spectra, config, warp), search.pool) for warp in new]
            costs.update(zip(new, alignment_costs(target, candidates, alignment), strict=True))
        return min(log_warps, key=lambda log_warp: (costs[warps[log_warp]], abs(log_warp)))

    step = (math.log(search.highest) - math.log(search.lowest)) / (search.steps - 1)
    best = ranked([math.log(search.lowest) + index * step for index in range(search.steps)])
    for _ in range(search.refinements):
        step /= 2
        best = ranked([best - step, best, best + step])
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
