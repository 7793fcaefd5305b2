"""A resumable upload in parts: how a declared size splits into numbered parts, and whether the parts
that arrived make the whole recording."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.audio import AudioTooLargeError
from domain.errors import ConflictError, InvalidInputError

MIN_PART_BYTES = 5 * 1024 * 1024  # S3 refuses smaller parts, but for the last one
MAX_PART_BYTES = 64 * 1024 * 1024
DEFAULT_PART_BYTES = 8 * 1024 * 1024
MAX_PARTS = 1000  # S3 allows 10,000; a recording needs a handful


class UploadIncompleteError(ConflictError):
    """Completing needs every part, each of its declared size."""

    code = "upload-incomplete"

    def __init__(self, missing: list[int], wrong_size: list[int]) -> None:
        reasons = []
        if missing:
            reasons.append(f"parts {_numbers(missing)} have not arrived")
        if wrong_size:
            reasons.append(f"parts {_numbers(wrong_size)} are not of their declared size; PUT them again")
        super().__init__("the upload is incomplete: " + "; ".join(reasons))
        self.missing = missing
        self.wrong_size = wrong_size


def _numbers(numbers: list[int]) -> str:
    return ", ".join(str(number) for number in numbers)


@dataclass(frozen=True, slots=True)
class PartPlan:
    """``total_bytes`` cut into parts of ``part_bytes``, numbered from 1; the last holds the rest."""

    total_bytes: int
    part_bytes: int

    @classmethod
    def of(cls, total_bytes: int, part_bytes: int, max_total_bytes: int) -> PartPlan:
        if total_bytes < 1:
            raise InvalidInputError("size_bytes", "must be at least 1")
        if total_bytes > max_total_bytes:
            raise AudioTooLargeError(max_total_bytes, total_bytes)
        if not MIN_PART_BYTES <= part_bytes <= MAX_PART_BYTES:
            raise InvalidInputError(
                "part_size_bytes", f"must be between {MIN_PART_BYTES} and {MAX_PART_BYTES} bytes"
            )
        plan = cls(total_bytes, part_bytes)
        if plan.part_count > MAX_PARTS:
            raise InvalidInputError(
                "part_size_bytes", f"makes more than {MAX_PARTS} parts; choose larger parts"
            )
        return plan

    @property
    def part_count(self) -> int:
        return -(-self.total_bytes // self.part_bytes)

    @property
    def numbers(self) -> range:
        return range(1, self.part_count + 1)

    def size_of(self, number: int) -> int:
        """The exact size part ``number`` must have; InvalidInputError outside 1..part_count."""
        if number not in self.numbers:
            raise InvalidInputError("part_number", f"must be between 1 and {self.part_count}")
        return min(self.part_bytes, self.total_bytes - (number - 1) * self.part_bytes)


@dataclass(frozen=True, slots=True)
class ArrivedPart:
    """A part the store holds: its number, size and the ETag completing the upload names it by."""

    number: int
    size: int
    etag: str


@dataclass(slots=True)
class MultipartUpload:
    """The resumable upload of a job's recording: the store's upload id, the plan, and whether it was
    assembled (completed) already."""

    job_id: UUID
    storage_upload_id: str
    key: str
    content_type: str
    plan: PartPlan
    created_at: datetime
    completed_at: datetime | None = None

    def parts_to_assemble(self, arrived: list[ArrivedPart]) -> list[ArrivedPart]:
        """Every part of the plan in order, each of its declared size; UploadIncompleteError otherwise."""
        self.require_open()
        by_number = {part.number: part for part in arrived if part.number in self.plan.numbers}
        missing = [number for number in self.plan.numbers if number not in by_number]
        wrong_size = [
            number for number, part in sorted(by_number.items()) if part.size != self.plan.size_of(number)
        ]
        if missing or wrong_size:
            raise UploadIncompleteError(missing, wrong_size)
        return [by_number[number] for number in self.plan.numbers]

    def complete(self, now: datetime) -> None:
        self.require_open()
        self.completed_at = now

    def require_open(self) -> None:
        if self.completed_at is not None:
            raise ConflictError("the upload was completed already; submit the job")
