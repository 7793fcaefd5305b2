"""Carrying positions on the reference's frames over to the user's frames through an alignment path."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from domain.voice.alignment import Alignment

Indices = npt.NDArray[np.intp]
Vector = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class FrameMap:
    """For each reference frame, the first and last user frames the path matches it with."""

    first: Indices
    last: Indices

    @classmethod
    def of(cls, alignment: Alignment, reference_frames: int) -> FrameMap:
        first = np.full(reference_frames, np.iinfo(np.intp).max, dtype=np.intp)
        last = np.zeros(reference_frames, dtype=np.intp)
        np.minimum.at(first, alignment.reference_frames, alignment.user_frames)
        np.maximum.at(last, alignment.reference_frames, alignment.user_frames)
        return cls(first, last)

    @property
    def reference_frames(self) -> int:
        return int(self.first.size)

    def boundaries(self, frames: npt.ArrayLike) -> Vector:
        """Where the boundary before each reference frame in ``frames`` (0..frames) falls, in user frames.

        Between the last user frame matched with the frame before and the first one matched with the
        frame after, so neighbouring spans share their boundary.
        """
        index = np.clip(np.asarray(frames, dtype=np.intp), 0, self.reference_frames)
        before = self.last[np.maximum(index - 1, 0)].astype(np.float64)
        after = self.first[np.minimum(index, self.reference_frames - 1)].astype(np.float64)
        middle: Vector = np.where(
            index == 0,
            after - 0.5,
            np.where(index == self.reference_frames, before + 0.5, (before + after) / 2),
        )
        return middle

    def positions(self, reference_positions: npt.ArrayLike) -> Vector:
        """Fractional reference frame positions carried to fractional user frame positions.

        Linear between boundaries: the boundary before frame ``k`` sits at position ``k - 0.5``.
        """
        position = np.clip(
            np.asarray(reference_positions, dtype=np.float64), -0.5, self.reference_frames - 0.5
        )
        before = np.floor(position + 0.5).astype(np.intp)
        lower, upper = self.boundaries(before), self.boundaries(before + 1)
        mapped: Vector = lower + (position + 0.5 - before) * (upper - lower)
        return mapped

    def covered(self, reference_frames: npt.NDArray[np.bool_], user_frames: int) -> npt.NDArray[np.bool_]:
        """The user frames matched with any of the marked reference frames."""
        marks = np.zeros(user_frames + 1, dtype=np.intp)
        np.add.at(marks, self.first[reference_frames], 1)
        np.add.at(marks, self.last[reference_frames] + 1, -1)
        inside: npt.NDArray[np.bool_] = np.cumsum(marks[:-1]) > 0
        return inside


def snap_to_pauses(
    positions: Vector,
    frames: Indices,
    reference_pauses: npt.NDArray[np.bool_],
    user_pauses: npt.NDArray[np.bool_],
) -> Vector:
    """Moves boundaries where the reference's speech meets a pause onto the matching edge of the user's pause.

    Inside a pause every frame looks alike, so the path may cross it anywhere; a word ending just before
    a reference pause ends where the user's pause begins, and one starting just after it where it ends.
    """
    snapped = positions.copy()
    labels, count = ndimage.label(user_pauses)
    if count == 0:
        return snapped
    index = np.arange(labels.size)
    run_first = ndimage.minimum(index, labels, np.arange(1, count + 1))
    run_last = ndimage.maximum(index, labels, np.arange(1, count + 1))
    inner = (frames > 0) & (frames < reference_pauses.size)
    before = np.where(inner, reference_pauses[np.clip(frames - 1, 0, reference_pauses.size - 1)], False)
    after = np.where(inner, reference_pauses[np.clip(frames, 0, reference_pauses.size - 1)], False)
    run = labels[np.clip(np.round(positions).astype(np.intp), 0, labels.size - 1)]
    in_pause = run > 0
    starts_pause = in_pause & after & ~before
    ends_pause = in_pause & before & ~after
    runs = np.maximum(run - 1, 0)
    snapped[starts_pause] = np.asarray(run_first)[runs[starts_pause]] - 0.5
    snapped[ends_pause] = np.asarray(run_last)[runs[ends_pause]] + 0.5
    return snapped
