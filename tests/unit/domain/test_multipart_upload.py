"""The part plan of a resumable upload and the rule that completes it."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from domain.analysis.multipart import (
    MAX_PARTS,
    MIN_PART_BYTES,
    ArrivedPart,
    MultipartUpload,
    PartPlan,
    UploadIncompleteError,
)
from domain.audio import AudioTooLargeError
from domain.errors import ConflictError, InvalidInputError

MIB = 1024 * 1024
NOW = datetime(2026, 12, 6, tzinfo=UTC)


def upload(total: int, part: int = 5 * MIB) -> MultipartUpload:
    return MultipartUpload(uuid4(), "id", "recordings/x.upload", "audio/wav", PartPlan(total, part), NOW)


def test_the_last_part_holds_the_rest() -> None:
    plan = PartPlan.of(12 * MIB, 5 * MIB, 30 * MIB)

    assert [plan.size_of(number) for number in plan.numbers] == [5 * MIB, 5 * MIB, 2 * MIB]


def test_a_part_number_outside_the_plan_is_invalid_input() -> None:
    plan = PartPlan.of(12 * MIB, 5 * MIB, 30 * MIB)

    for number in (0, 4):
        with pytest.raises(InvalidInputError):
            plan.size_of(number)


@pytest.mark.parametrize(
    ("total", "part", "error"),
    [
        (MAX_PARTS * MIB * 10 + 1, 64 * MIB, AudioTooLargeError),
        (0, 5 * MIB, InvalidInputError),
        (10 * MIB, MIN_PART_BYTES - 1, InvalidInputError),
        ((MAX_PARTS + 1) * MIN_PART_BYTES, MIN_PART_BYTES, InvalidInputError),
    ],
)
def test_plans_out_of_bounds_are_refused(total: int, part: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        PartPlan.of(total, part, max_total_bytes=MAX_PARTS * MIB * 10)


def test_completion_names_the_parts_missing_and_of_the_wrong_size() -> None:
    arrived = [ArrivedPart(2, 4 * MIB, '"b"'), ArrivedPart(4, MIB, '"d"')]

    with pytest.raises(UploadIncompleteError) as refused:
        upload(16 * MIB).parts_to_assemble(arrived)

    assert (refused.value.missing, refused.value.wrong_size) == ([1, 3], [2])


def test_completion_takes_every_part_in_order_and_only_once() -> None:
    pending = upload(7 * MIB)
    arrived = [ArrivedPart(2, 2 * MIB, '"b"'), ArrivedPart(1, 5 * MIB, '"a"')]

    assert [part.number for part in pending.parts_to_assemble(arrived)] == [1, 2]
    pending.complete(NOW)
    with pytest.raises(ConflictError):
        pending.complete(NOW)
