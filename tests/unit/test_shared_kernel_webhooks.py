"""The Standard Webhooks wrapper: several secrets, the 400/401 split, and agreement with the library's verify."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
import standardwebhooks
from hypothesis import given
from hypothesis import strategies as st

from shared_kernel.webhooks import (
    InvalidWebhookSecret,
    InvalidWebhookSignature,
    MalformedWebhook,
    StaleWebhook,
    VerifiedWebhook,
    WebhookSigner,
    WebhookVerifier,
    decode_webhook_secret,
    generate_webhook_secret,
    parse_webhook_secrets,
)

# The reference library's own test secret (24 bytes).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-secret-of-32-bytes-long!").decode()
NOW = 1_732_600_000
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
BODY = json.dumps(
    {"type": "analysis.completed", "timestamp": "2024-11-26T05:46:40Z", "data": {"job_id": "0190a6b2"}},
    separators=(",", ":"),
).encode()


def verifier(*secrets: str, tolerance_seconds: int = 300) -> WebhookVerifier:
    return WebhookVerifier(list(secrets or [SECRET]), tolerance_seconds, clock=lambda: NOW)


def signed_headers(secret: str = SECRET, *, msg_id: str = MSG_ID, timestamp: int = NOW) -> dict[str, str]:
    return WebhookSigner(secret).headers(msg_id, BODY, timestamp=timestamp)


# --- interoperability with the reference library ----------------------------------------------------------


def test_verifies_what_the_reference_library_signs() -> None:
    reference = standardwebhooks.Webhook(SECRET)
    signature = reference.sign(MSG_ID, datetime.fromtimestamp(NOW, UTC), BODY.decode())
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(NOW), "webhook-signature": signature}

    assert verifier().verify(BODY, headers) == VerifiedWebhook(id=MSG_ID, timestamp=NOW)


def test_the_reference_library_verifies_what_we_sign() -> None:
    headers = WebhookSigner(SECRET).headers(MSG_ID, BODY)  # real clock: the library checks against now

    assert standardwebhooks.Webhook(SECRET).verify(BODY, headers) == json.loads(BODY)


def test_signature_equals_the_reference_library_signature() -> None:
    reference = standardwebhooks.Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(NOW, UTC), BODY.decode())

    assert WebhookSigner(SECRET).sign(MSG_ID, NOW, BODY) == reference


def test_the_reference_library_rejects_our_signature_under_another_secret() -> None:
    headers = WebhookSigner(OTHER_SECRET).headers(MSG_ID, BODY)

    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(BODY, headers)


@given(
    body=st.text(max_size=300).map(str.encode),
    msg_id=st.from_regex(r"msg_[A-Za-z0-9_-]{1,40}", fullmatch=True),
    key=st.binary(min_size=24, max_size=64),
    skew=st.integers(min_value=-300, max_value=300),
)
def test_any_body_signed_by_either_side_verifies_on_the_other(
    body: bytes, msg_id: str, key: bytes, skew: int
) -> None:
    secret = "whsec_" + base64.b64encode(key).decode()
    timestamp = NOW + skew
    ours = WebhookSigner(secret).sign(msg_id, timestamp, body)
    reference = standardwebhooks.Webhook(secret).sign(
        msg_id, datetime.fromtimestamp(timestamp, UTC), body.decode()
    )

    assert ours == reference
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": reference}
    assert verifier(secret).verify(body, headers).id == msg_id


# --- rotation and multiple signatures ------------------------------------------------------------------


def test_any_configured_secret_is_accepted_during_rotation() -> None:
    rotating = verifier(OTHER_SECRET, SECRET)

    assert rotating.verify(BODY, signed_headers(SECRET)).id == MSG_ID
    assert rotating.verify(BODY, signed_headers(OTHER_SECRET)).id == MSG_ID


def test_one_matching_signature_among_several_is_enough() -> None:
    headers = signed_headers(SECRET)
    unknown = WebhookSigner(OTHER_SECRET).sign(MSG_ID, NOW, BODY)
    headers["webhook-signature"] = f"{unknown} {headers['webhook-signature']} v1a,aGVsbG8="

    assert verifier(SECRET).verify(BODY, headers).id == MSG_ID


def test_signer_with_previous_secrets_sends_one_signature_per_secret() -> None:
    signer = WebhookSigner(SECRET, previous_secrets=[OTHER_SECRET])

    headers = signer.headers(MSG_ID, BODY, timestamp=NOW)

    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verifier(OTHER_SECRET).verify(BODY, headers).id == MSG_ID
    assert verifier(SECRET).verify(BODY, headers).id == MSG_ID


# --- rejections ----------------------------------------------------------------------------------------


def test_tampered_body_is_an_invalid_signature() -> None:
    with pytest.raises(InvalidWebhookSignature):
        verifier().verify(BODY.replace(b"completed", b"failed"), signed_headers())


def test_signature_under_an_unknown_secret_is_invalid() -> None:
    with pytest.raises(InvalidWebhookSignature):
        verifier(SECRET).verify(BODY, signed_headers(OTHER_SECRET))


def test_signature_for_another_id_is_invalid() -> None:
    headers = signed_headers()
    headers["webhook-id"] = "msg_replayed_under_a_new_id"

    with pytest.raises(InvalidWebhookSignature):
        verifier().verify(BODY, headers)


def test_only_other_signature_versions_is_invalid() -> None:
    headers = signed_headers()
    headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v1a,")

    with pytest.raises(InvalidWebhookSignature):
        verifier().verify(BODY, headers)


def test_signature_that_is_not_base64_is_invalid() -> None:
    headers = signed_headers()
    headers["webhook-signature"] = "v1,not*base64!"

    with pytest.raises(InvalidWebhookSignature):
        verifier().verify(BODY, headers)


@pytest.mark.parametrize("offset", [-301, 301, -86_400, 86_400])
def test_timestamps_outside_the_tolerance_are_stale(offset: int) -> None:
    headers = signed_headers(timestamp=NOW + offset)

    with pytest.raises(StaleWebhook):
        verifier().verify(BODY, headers)


@pytest.mark.parametrize("offset", [-300, 300])
def test_timestamps_at_the_edge_of_the_tolerance_are_accepted(offset: int) -> None:
    assert verifier().verify(BODY, signed_headers(timestamp=NOW + offset)).timestamp == NOW + offset


def test_tolerance_is_configurable() -> None:
    with pytest.raises(StaleWebhook):
        verifier(tolerance_seconds=10).verify(BODY, signed_headers(timestamp=NOW - 11))


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_malformed(missing: str) -> None:
    headers = signed_headers()
    del headers[missing]

    with pytest.raises(MalformedWebhook):
        verifier().verify(BODY, headers)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("webhook-timestamp", "1732600000.5"),
        ("webhook-timestamp", "-1732600000"),
        ("webhook-timestamp", "soon"),
        ("webhook-timestamp", "1e9"),
        ("webhook-timestamp", "   "),
        ("webhook-signature", "v1"),
        ("webhook-signature", "v1,"),
        ("webhook-signature", ",abc"),
        ("webhook-signature", " ".join(["v1,aGVsbG8="] * 17)),
        ("webhook-id", "msg.with.dots"),
        ("webhook-id", "x" * 257),
    ],
)
def test_malformed_headers_are_malformed(header: str, value: str) -> None:
    headers = signed_headers()
    headers[header] = value

    with pytest.raises(MalformedWebhook):
        verifier().verify(BODY, headers)


def test_a_body_that_is_not_utf8_is_malformed() -> None:
    with pytest.raises(MalformedWebhook):
        verifier().verify(b"\xff\xfe", signed_headers())


def test_header_names_are_case_insensitive() -> None:
    headers = {name.title(): value for name, value in signed_headers().items()}

    assert verifier().verify(BODY, headers).id == MSG_ID


def test_stale_and_bad_signature_are_not_mistaken_for_malformed() -> None:
    """The endpoint answers 400 for MalformedWebhook and 401 for the others, so they must stay apart."""
    assert not issubclass(StaleWebhook, MalformedWebhook)
    assert not issubclass(InvalidWebhookSignature, MalformedWebhook)


# --- secrets -------------------------------------------------------------------------------------------


def test_generated_secrets_are_distinct_and_usable() -> None:
    first, second = generate_webhook_secret(), generate_webhook_secret()

    assert first != second
    assert first.startswith("whsec_")
    assert len(decode_webhook_secret(first)) == 32
    headers = WebhookSigner(first).headers(MSG_ID, BODY, timestamp=NOW)
    assert verifier(first).verify(BODY, headers).id == MSG_ID


def test_secrets_parse_from_a_comma_or_space_separated_list() -> None:
    raw = f" {SECRET}, {OTHER_SECRET}\n{SECRET} ,"

    assert parse_webhook_secrets(raw) == [SECRET, OTHER_SECRET, SECRET]


def test_an_empty_list_parses_to_no_secrets() -> None:
    assert parse_webhook_secrets(" , ") == []


def test_unpadded_base64_secrets_are_accepted() -> None:
    padded = "whsec_" + base64.b64encode(b"x" * 25).decode()

    assert decode_webhook_secret(padded.rstrip("=")) == b"x" * 25


@pytest.mark.parametrize(
    "secret",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_",
        "whsec_not base64!",
        "whsec_" + base64.b64encode(b"too-short").decode(),
        "whsec_" + base64.b64encode(b"x" * 65).decode(),
    ],
)
def test_bad_secrets_are_refused(secret: str) -> None:
    with pytest.raises(InvalidWebhookSecret):
        parse_webhook_secrets(f"{SECRET},{secret}")
    with pytest.raises(InvalidWebhookSecret):
        WebhookSigner(secret)


def test_a_verifier_needs_at_least_one_secret() -> None:
    with pytest.raises(InvalidWebhookSecret):
        WebhookVerifier([])


def test_signer_refuses_an_id_the_spec_forbids() -> None:
    with pytest.raises(MalformedWebhook):
        WebhookSigner(SECRET).sign("msg.1", NOW, BODY)
