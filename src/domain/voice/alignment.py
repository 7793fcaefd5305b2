"""Dynamic time warping of a user's frames onto a reference's, in memory linear in the recordings' length.

Small problems are solved over the whole cost matrix. Larger ones are solved coarse to fine (as in
FastDTW): align the frames averaged ``pool`` at a time, then search only within ``radius`` frames of
that path projected onto the finer grid, so a 120 s script never holds a 12,000 x 12,000 matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]

_ROW_BLOCK = 256


@dataclass(frozen=True, slots=True)
class AlignmentSettings:
    """Searches the whole matrix up to ``full_cells`` cells; beyond, aligns frames averaged ``pool`` at a
    time first and searches ``radius`` frames either side of that path. ``step_penalty`` is added to
    every horizontal or vertical step (see ``_warp``)."""

    full_cells: int = 250_000
    pool: int = 4
    radius: int = 24
    step_penalty: float = 0.25


@dataclass(frozen=True, slots=True, eq=False)
class Alignment:
    """A monotone path from (0, 0) to (last reference frame, last user frame) with its local costs.

    Step ``k`` matches reference frame ``reference_frames[k]`` with user frame ``user_frames[k]`` at
    Euclidean distance ``step_costs[k]``; ``normalised_cost`` is the path's weighted total divided by
    the number of reference plus user frames (a diagonal step counts its cost twice).
    """

    reference_frames: Indices
    user_frames: Indices
    step_costs: Vector
    normalised_cost: float

    @property
    def length(self) -> int:
        return int(self.reference_frames.size)


@dataclass(frozen=True, slots=True, eq=False)
class _Window:
    """Row ``i`` of the search may use columns ``[start[i], stop[i])``; both are non-decreasing."""

    start: Indices
    stop: Indices

    @property
    def width(self) -> int:
        return int((self.stop - self.start).max())

    @property
    def offsets(self) -> Indices:
        """Where each row's cells begin when the rows are laid end to end (one more entry: the total)."""
        return np.concatenate(([0], np.cumsum(self.stop - self.start)))


def align(reference: Matrix, user: Matrix, settings: AlignmentSettings = AlignmentSettings()) -> Alignment:
    """The minimum-cost alignment of ``user`` frames (rows are frames) to ``reference`` frames."""
    align_inputs_checked(reference, user)
    window = _search_window(reference, user, settings)
    return _warp(reference, user, window, settings.step_penalty)


def alignment_costs(
    reference: Matrix, users: list[Matrix], settings: AlignmentSettings = AlignmentSettings()
) -> list[float]:
    """``align(reference, user, settings).normalised_cost`` for each of ``users``, equal to the last bit.

    Candidates of the same length small enough for the whole matrix (a speaker-warp search compares
    one recording under several warps) run through the row recurrence together, one set of vector
    operations per row for all of them, and skip the backtrack: the cost needs no path.
    """
    rows = reference.shape[0]
    shapes = {user.shape for user in users}
    if len(shapes) != 1 or rows * users[0].shape[0] > settings.full_cells or len(users) == 1:
        return [align(reference, user, settings).normalised_cost for user in users]
    for user in users:
        align_inputs_checked(reference, user)
    columns = users[0].shape[0]
    window = _Window(np.zeros(rows, dtype=np.intp), np.full(rows, columns, dtype=np.intp))
    penalty = settings.step_penalty
    costs = np.stack([_costs(reference, user, window) for user in users]) + penalty
    # The recurrence of ``_warp`` over the whole matrix, one candidate per row of these arrays.
    previous = np.full((len(users), columns + 1), np.inf)
    previous[:, 0] = penalty - costs[:, 0]
    best, sums = np.empty((len(users), columns)), np.empty((len(users), columns))
    current = np.empty((len(users), columns))
    for row in range(rows):
        cost = costs[:, row * columns : (row + 1) * columns]
        np.add.accumulate(cost, axis=1, out=sums)
        np.add(previous[:, :columns], cost - 2.0 * penalty, out=best)
        np.minimum(best, previous[:, 1:], out=best)
        best += cost
        best -= sums
        np.minimum.accumulate(best, axis=1, out=current)
        current += sums
        previous[:, 1:] = current
        previous[:, 0] = np.inf
    return [float(total) / (rows + columns) for total in current[:, -1]]


def align_inputs_checked(reference: Matrix, user: Matrix) -> None:
    """Raises ValueError unless both are non-empty (frames x coefficients) with the same coefficients."""
    if reference.ndim != 2 or user.ndim != 2 or reference.shape[1] != user.shape[1]:
        raise ValueError("reference and user must be (frames x coefficients) with the same coefficients")
    if reference.shape[0] == 0 or user.shape[0] == 0:
        raise ValueError("cannot align an empty sequence")


def _search_window(reference: Matrix, user: Matrix, settings: AlignmentSettings) -> _Window:
    rows, columns = reference.shape[0], user.shape[0]
    if rows * columns <= settings.full_cells or min(rows, columns) < 2 * settings.pool:
        return _Window(np.zeros(rows, dtype=np.intp), np.full(rows, columns, dtype=np.intp))
    coarse = align(pooled(reference, settings.pool), pooled(user, settings.pool), settings)
    return _around(coarse, settings.pool, settings.radius, rows, columns)


def pooled(frames: Matrix, pool: int) -> Matrix:
    """Means of ``pool`` consecutive frames (the last group padded with copies of the last frame)."""
    padded = -(-frames.shape[0] // pool) * pool
    tail = np.repeat(frames[-1:], padded - frames.shape[0], axis=0)
    means: Matrix = np.concatenate([frames, tail]).reshape(-1, pool, frames.shape[1]).mean(axis=1)
    return means


def _around(coarse: Alignment, pool: int, radius: int, rows: int, columns: int) -> _Window:
    """The cells within ``radius`` (in rows and columns) of the coarse path projected onto the fine grid."""
    coarse_rows = -(-rows // pool)
    first = np.full(coarse_rows, np.iinfo(np.intp).max, dtype=np.intp)
    last = np.zeros(coarse_rows, dtype=np.intp)
    np.minimum.at(first, coarse.reference_frames, coarse.user_frames)
    np.maximum.at(last, coarse.reference_frames, coarse.user_frames)
    start = np.repeat(first * pool, pool)[:rows]
    stop = np.repeat((last + 1) * pool, pool)[:rows]
    size = 2 * radius + 1
    start = ndimage.minimum_filter1d(start, size, mode="nearest") - radius
    stop = ndimage.maximum_filter1d(stop, size, mode="nearest") + radius
    return _Window(np.clip(start, 0, columns), np.clip(stop, 0, columns))


def _costs(reference: Matrix, user: Matrix, window: _Window) -> Vector:
    """Distances of each reference frame to the user frames in its window, rows laid end to end."""
    flat = np.empty(int(window.offsets[-1]))
    user_norms = np.einsum("ij,ij->i", user, user)
    reference_norms = np.einsum("ij,ij->i", reference, reference)
    whole = bool((window.start == 0).all() and (window.stop == user.shape[0]).all())
    for block in range(0, reference.shape[0], _ROW_BLOCK):
        rows = slice(block, block + _ROW_BLOCK)
        low, high = int(window.start[rows].min()), int(window.stop[rows].max())
        squared = (
            reference_norms[rows, None]
            + user_norms[None, low:high]
            - 2.0 * (reference[rows] @ user[low:high].T)
        )
        end = min(block + _ROW_BLOCK, reference.shape[0])
        if not whole:
            columns = np.arange(low, high)
            squared = squared[(columns >= window.start[rows, None]) & (columns < window.stop[rows, None])]
        flat[window.offsets[block] : window.offsets[end]] = np.sqrt(np.maximum(squared, 0.0)).ravel()
    return flat


def _warp(reference: Matrix, user: Matrix, window: _Window, penalty: float) -> Alignment:
    """Symmetric DTW within ``window``, row by row: a diagonal step weighs its cost twice, a horizontal
    or vertical one once plus ``penalty``, so that across stretches where every pairing costs about the
    same (a held sound, a pause) the path keeps to the diagonal rather than stalling on one frame.

    With ``step = cost + penalty``, ``total[j] = min(entry[j], total[j - 1] + step[j])`` within a row,
    which is a prefix minimum once offset by the running sum of the steps: a few vector operations.
    """
    costs = _costs(reference, user, window) + penalty
    totals = np.empty_like(costs)
    columns = user.shape[0]
    # previous[j + 1] is the previous row's total at column j; inf outside its window and at previous[0],
    # except before the first row, where the path enters (0, 0) diagonally with its cost counted once.
    previous = np.full(columns + 1, np.inf)
    previous[0] = penalty - costs[0]
    starts, stops, offsets = window.start.tolist(), window.stop.tolist(), window.offsets.tolist()
    best_buffer, sums_buffer = np.empty(window.width), np.empty(window.width)
    previous_start = 0
    for row in range(reference.shape[0]):
        start, stop = starts[row], stops[row]
        cells = slice(offsets[row], offsets[row + 1])
        cost, current = costs[cells], totals[cells]
        best, sums = best_buffer[: stop - start], sums_buffer[: stop - start]
        np.add.accumulate(cost, out=sums)
        np.add(previous[start:stop], cost - 2.0 * penalty, out=best)
        np.minimum(best, previous[start + 1 : stop + 1], out=best)
        best += cost
        best -= sums
        np.minimum.accumulate(best, out=current)
        current += sums
        previous[previous_start + 1 : start + 1] = np.inf
        previous[start + 1 : stop + 1] = current
        previous[0] = np.inf
        previous_start = start
    reference_frames, user_frames = _backtrack(totals, costs - 2.0 * penalty, window)
    step_costs = np.linalg.norm(reference[reference_frames] - user[user_frames], axis=1)
    return Alignment(
        reference_frames, user_frames, step_costs, float(totals[-1]) / (reference.shape[0] + columns)
    )


def _backtrack(totals: Vector, diagonal_extra: Vector, window: _Window) -> tuple[Indices, Indices]:
    """Walks back from the last cell taking the predecessor the recurrence chose (diagonal on ties).

    ``diagonal_extra`` is what a diagonal step into a cell adds beyond a horizontal or vertical one.
    """
    starts, stops, offsets = window.start.tolist(), window.stop.tolist(), window.offsets.tolist()
    row, column = len(starts) - 1, stops[-1] - 1
    rows, columns = [row], [column]
    while row > 0 or column > 0:
        best = np.inf
        move = (0, 0)
        here = offsets[row] + column - starts[row]
        if row > 0 and starts[row - 1] <= column - 1 < stops[row - 1]:
            best = totals[offsets[row - 1] + column - 1 - starts[row - 1]] + diagonal_extra[here]
            move = (row - 1, column - 1)
        if row > 0 and starts[row - 1] <= column < stops[row - 1]:
            vertical = totals[offsets[row - 1] + column - starts[row - 1]]
            if vertical < best:
                best, move = vertical, (row - 1, column)
        if column > starts[row] and totals[here - 1] < best:
            move = (row, column - 1)
        row, column = move
        rows.append(row)
        columns.append(column)
    return np.array(rows[::-1], dtype=np.intp), np.array(columns[::-1], dtype=np.intp)
