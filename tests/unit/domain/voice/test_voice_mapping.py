from __future__ import annotations

import numpy as np

from domain.voice.alignment import Alignment
from domain.voice.mapping import FrameMap, snap_to_pauses


def _alignment(path: list[tuple[int, int]]) -> Alignment:
    rows, columns = zip(*path, strict=True)
    return Alignment(np.array(rows), np.array(columns), np.zeros(len(path)), 0.0)


# Reference frame 1 is held over user frames 1-3; reference frames 3 and 4 share user frame 5.
PATH = [(0, 0), (1, 1), (1, 2), (1, 3), (2, 4), (3, 5), (4, 5), (5, 6)]


def test_a_boundary_falls_between_the_user_frames_of_the_frames_on_either_side() -> None:
    frame_map = FrameMap.of(_alignment(PATH), reference_frames=6)

    np.testing.assert_array_equal(frame_map.boundaries([1, 2, 3]), [0.5, 3.5, 4.5])


def test_a_boundary_between_frames_sharing_a_user_frame_falls_on_it() -> None:
    frame_map = FrameMap.of(_alignment(PATH), reference_frames=6)

    assert frame_map.boundaries([4])[0] == 5.0


def test_the_outer_boundaries_are_the_edges_of_the_first_and_last_user_frames() -> None:
    frame_map = FrameMap.of(_alignment(PATH), reference_frames=6)

    np.testing.assert_array_equal(frame_map.boundaries([0, 6, 99]), [-0.5, 6.5, 6.5])


def test_covered_marks_the_user_frames_matched_with_marked_reference_frames() -> None:
    frame_map = FrameMap.of(_alignment(PATH), reference_frames=6)

    covered = frame_map.covered(np.array([False, True, False, False, True, False]), user_frames=7)

    np.testing.assert_array_equal(np.flatnonzero(covered), [1, 2, 3, 5])


def test_a_word_ending_at_a_reference_pause_ends_where_the_users_pause_begins() -> None:
    reference_pauses = np.array([False] * 5 + [True] * 5)
    user_pauses = np.array([False] * 8 + [True] * 10 + [False] * 2)

    snapped = snap_to_pauses(np.array([15.0]), np.array([5]), reference_pauses, user_pauses)

    assert snapped[0] == 7.5


def test_a_word_starting_after_a_reference_pause_starts_where_the_users_pause_ends() -> None:
    reference_pauses = np.array([True] * 5 + [False] * 5)
    user_pauses = np.array([True] * 12 + [False] * 8)

    snapped = snap_to_pauses(np.array([3.0]), np.array([5]), reference_pauses, user_pauses)

    assert snapped[0] == 11.5


def test_boundaries_away_from_pauses_stay_put() -> None:
    reference_pauses = np.array([False] * 4 + [True] * 3 + [False] * 3)
    user_pauses = np.array([False] * 5 + [True] * 5 + [False] * 10)

    snapped = snap_to_pauses(np.array([2.0, 15.0, 7.0]), np.array([2, 8, 5]), reference_pauses, user_pauses)

    np.testing.assert_array_equal(snapped, [2.0, 15.0, 7.0])


def test_positions_on_a_diagonal_path_map_to_themselves() -> None:
    frame_map = FrameMap.of(_alignment([(frame, frame) for frame in range(10)]), reference_frames=10)

    np.testing.assert_allclose(frame_map.positions([-0.5, 0.0, 2.3, 7.75, 9.5]), [-0.5, 0.0, 2.3, 7.75, 9.5])


def test_positions_inside_a_held_frame_spread_over_its_user_frames() -> None:
    frame_map = FrameMap.of(_alignment(PATH), reference_frames=6)

    np.testing.assert_allclose(frame_map.positions([0.5, 1.0, 1.5]), [0.5, 2.0, 3.5])
