"""Pitch contours for clients to draw: the reference's and the user's aligned onto the reference's clock."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from domain.voice.alignment import Alignment
from domain.voice.features import Features
from domain.voice.result import PitchContour

Vector = npt.NDArray[np.float64]


def pitch_contour(reference: Features, user: Features, alignment: Alignment, max_points: int) -> PitchContour:
    """At most ``max_points`` points, each the mean over a run of reference frames (None where unvoiced)."""
    frames = reference.frame_count
    user_on_reference = _mean_by(
        alignment.reference_frames, user.pitch_semitones[alignment.user_frames], frames
    )
    bins = min(frames, max_points)
    edges = np.linspace(0, frames, bins + 1).round().astype(np.intp)
    owner = np.repeat(np.arange(bins), np.diff(edges))
    centres = (edges[:-1] + edges[1:] - 1) / 2.0
    return PitchContour(
        times=tuple(round(reference.frame_time(float(centre)), 3) for centre in centres),
        reference=_plain(_mean_by(owner, reference.pitch_semitones, bins)),
        user=_plain(_mean_by(owner, user_on_reference, bins)),
    )


def _mean_by(groups: npt.NDArray[np.intp], values: Vector, count: int) -> Vector:
    """Mean of the finite ``values`` in each group 0..count-1; NaN for a group with none."""
    finite = np.isfinite(values)
    sums = np.bincount(groups[finite], weights=values[finite], minlength=count)
    counts = np.bincount(groups[finite], minlength=count)
    means: Vector = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return means


def _plain(values: Vector) -> tuple[float | None, ...]:
    return tuple(None if np.isnan(value) else round(float(value), 2) for value in values)
