"""The upload's two digests from one pass: the idempotency payload's must stay what it was (keys claimed
before a deploy are compared against it for 24 hours), and the recording's is its plain SHA-256."""

from __future__ import annotations

import hashlib

import pytest

from entrypoints.http.controllers.practice_items import reuse_payload, upload_digests

RECORDING = b"RIFF" + bytes(range(256)) * 900


@pytest.mark.parametrize("reuse", [True, False])
def test_the_payload_digest_is_the_digest_of_the_reuse_payload(reuse: bool) -> None:
    recording_sha256, payload_sha256 = upload_digests(RECORDING, reuse)

    assert payload_sha256 == hashlib.sha256(reuse_payload(RECORDING, reuse)).digest()
    assert recording_sha256 == hashlib.sha256(RECORDING).hexdigest()


def test_asking_for_a_fresh_analysis_changes_the_payload_digest_only() -> None:
    reused = upload_digests(RECORDING, True)
    fresh = upload_digests(RECORDING, False)

    assert reused[0] == fresh[0]
    assert reused[1] != fresh[1]
