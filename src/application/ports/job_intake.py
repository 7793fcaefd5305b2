"""The upload path's persistence: what accepting a recording reads and writes, one round trip each.

Every upload asks the same two things of the database, so they get statements of their own instead of
a unit of work's repositories: the item's reference (with the user's reusable analyses of the same
recording), then the new job with its events, its outbox row and the idempotency key's response, all
in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from application.ports.idempotency import IdempotencyReceipt, KeyClaimRequest
from domain.analysis.jobs import Job
from domain.analysis.outbox import OutboxMessage
from domain.catalog import ReferenceKind


@dataclass(frozen=True, slots=True)
class ReuseQuery:
    """Whose completed analyses of which recording (SHA-256, hex) under which feature version to find."""

    user_id: UUID
    recording_sha256: str
    feature_version: str


@dataclass(frozen=True, slots=True)
class IntakeReference:
    """An item as an upload needs it: its kind, its reference version (None without reference audio),
    and, when asked, the newest matching completed job per reference version it was analysed against."""

    kind: ReferenceKind
    reference_version: str | None
    reusable: dict[str, UUID] = field(default_factory=dict)


class JobIntake(Protocol):
    async def reference(
        self, item_id: UUID, reuse: ReuseQuery | None = None, claim: KeyClaimRequest | None = None
    ) -> IntakeReference | None:
        """The item's reference in one query; None when there is no such item. With ``claim``, the
        idempotency key is claimed in the same statement (committed with it), first: ``KeyTakenError``
        when the key is taken, whether or not the item exists."""
        ...

    async def accept(
        self, job: Job, outbox: OutboxMessage | None, receipt: IdempotencyReceipt[Job] | None = None
    ) -> None:
        """Store in one transaction the new ``job``, its pending events (numbered in the owner's feed,
        as ``UnitOfWork.commit`` numbers them), its result's words, the ``outbox`` row and the
        ``receipt``'s response for the job; then publish the events, as ``UnitOfWork.commit`` does.
        ``ConflictError`` when the job conflicts with existing data (its item was deleted meanwhile)."""
        ...
