from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from domain.voice.alignment import Alignment, AlignmentSettings, align, alignment_costs


def _brute_force_cost(reference: np.ndarray, user: np.ndarray, penalty: float) -> float:
    costs = np.linalg.norm(reference[:, None] - user[None], axis=2)
    rows, columns = costs.shape
    total = np.full((rows, columns), np.inf)
    for row in range(rows):
        for column in range(columns):
            if row == column == 0:
                total[0, 0] = costs[0, 0]
                continue
            options = []
            if row and column:
                options.append(total[row - 1, column - 1] + 2 * costs[row, column])
            if row:
                options.append(total[row - 1, column] + costs[row, column] + penalty)
            if column:
                options.append(total[row, column - 1] + costs[row, column] + penalty)
            total[row, column] = min(options)
    return float(total[-1, -1] / (rows + columns))


def _path_cost(alignment: Alignment, penalty: float, frames: int) -> float:
    diagonal = (np.diff(alignment.reference_frames) == 1) & (np.diff(alignment.user_frames) == 1)
    weights = np.concatenate(([1.0], np.where(diagonal, 2.0, 1.0)))
    penalties = penalty * np.count_nonzero(~diagonal)
    return float((alignment.step_costs * weights).sum() + penalties) / frames


@pytest.mark.parametrize("penalty", [0.0, 0.25])
@pytest.mark.parametrize(("rows", "columns"), [(1, 1), (1, 6), (6, 1), (23, 31), (40, 17)])
def test_alignment_cost_is_the_optimum(rows: int, columns: int, penalty: float) -> None:
    rng = np.random.default_rng(rows * 100 + columns)
    reference, user = rng.normal(size=(rows, 4)), rng.normal(size=(columns, 4))

    alignment = align(reference, user, AlignmentSettings(step_penalty=penalty))

    assert alignment.normalised_cost == pytest.approx(_brute_force_cost(reference, user, penalty))


@pytest.mark.parametrize("penalty", [0.0, 0.25])
@pytest.mark.parametrize(("rows", "columns"), [(1, 1), (1, 6), (6, 1), (23, 31), (300, 40)])
def test_batched_costs_equal_each_alignments_cost_exactly(rows: int, columns: int, penalty: float) -> None:
    rng = np.random.default_rng(rows + columns)
    reference = rng.normal(size=(rows, 4))
    users = [rng.normal(size=(columns, 4)) for _ in range(5)]
    settings = AlignmentSettings(step_penalty=penalty)

    costs = alignment_costs(reference, users, settings)

    assert costs == [align(reference, user, settings).normalised_cost for user in users]
    assert len(set(costs)) == len(users)


def test_batched_costs_fall_back_beyond_the_whole_matrix_and_for_mixed_lengths() -> None:
    rng = np.random.default_rng(11)
    reference = rng.normal(size=(120, 4))
    settings = AlignmentSettings(full_cells=1_000)
    same = [rng.normal(size=(100, 4)) for _ in range(3)]
    mixed = [rng.normal(size=(size, 4)) for size in (90, 110)]

    for users in (same, mixed):
        assert alignment_costs(reference, users, settings) == [
            align(reference, user, settings).normalised_cost for user in users
        ]


def test_batched_costs_reject_what_align_rejects() -> None:
    with pytest.raises(ValueError, match="same coefficients"):
        alignment_costs(np.ones((5, 4)), [np.ones((5, 4)), np.ones((5, 3))])


@pytest.mark.parametrize("penalty", [0.0, 0.25])
def test_the_path_is_the_one_the_cost_was_counted_on(penalty: float) -> None:
    rng = np.random.default_rng(3)
    reference, user = rng.normal(size=(30, 4)), rng.normal(size=(45, 4))

    alignment = align(reference, user, AlignmentSettings(step_penalty=penalty))

    assert _path_cost(alignment, penalty, 75) == pytest.approx(alignment.normalised_cost)


def test_the_path_runs_monotonically_from_corner_to_corner() -> None:
    rng = np.random.default_rng(5)
    alignment = align(rng.normal(size=(50, 3)), rng.normal(size=(70, 3)))

    assert (alignment.reference_frames[0], alignment.user_frames[0]) == (0, 0)
    assert (alignment.reference_frames[-1], alignment.user_frames[-1]) == (49, 69)
    steps = np.stack([np.diff(alignment.reference_frames), np.diff(alignment.user_frames)], axis=1)
    assert {tuple(step) for step in steps.tolist()} <= {(1, 1), (1, 0), (0, 1)}


def test_identical_sequences_align_on_the_diagonal_at_no_cost() -> None:
    frames = np.random.default_rng(1).normal(size=(80, 13))

    alignment = align(frames, frames)

    np.testing.assert_array_equal(alignment.reference_frames, np.arange(80))
    np.testing.assert_array_equal(alignment.user_frames, np.arange(80))
    assert alignment.normalised_cost == pytest.approx(0.0, abs=1e-6)


def test_a_sequence_spoken_twice_as_slowly_maps_each_frame_to_two() -> None:
    frames = np.random.default_rng(2).normal(size=(60, 13))

    alignment = align(frames, np.repeat(frames, 2, axis=0))

    for frame in range(60):
        assert set(alignment.user_frames[alignment.reference_frames == frame]) == {2 * frame, 2 * frame + 1}


def _warped_pair(frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random trajectory and the same one traversed at a varying speed, slightly noisy."""
    rng = np.random.default_rng(seed)
    time = np.linspace(0, frames / 10, frames)
    frequencies = rng.uniform(0.2, 3.0, size=13)
    reference = np.sin(np.outer(time, frequencies))
    speed = np.cumsum(rng.uniform(0.5, 1.6, size=round(frames * 1.1)))
    warped = np.sin(np.outer(speed / speed[-1] * time[-1], frequencies))
    return reference, warped + rng.normal(scale=0.05, size=warped.shape)


def test_coarse_to_fine_search_finds_the_full_search_optimum() -> None:
    reference, user = _warped_pair(1500, seed=4)

    coarse_to_fine = align(reference, user)
    full = align(reference, user, AlignmentSettings(full_cells=10**8))

    assert coarse_to_fine.normalised_cost == pytest.approx(full.normalised_cost, rel=1e-3)


def test_a_two_minute_alignment_never_holds_the_full_cost_matrix() -> None:
    reference, user = _warped_pair(12_000, seed=6)
    full_matrix_bytes = reference.shape[0] * user.shape[0] * 8

    tracemalloc.start()
    alignment = align(reference, user)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert alignment.length >= 12_000
    assert peak < full_matrix_bytes / 10


def test_sequences_of_different_coefficients_are_refused() -> None:
    with pytest.raises(ValueError, match="same coefficients"):
        align(np.zeros((5, 13)), np.zeros((5, 12)))


def test_an_empty_sequence_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        align(np.zeros((0, 13)), np.zeros((5, 13)))
