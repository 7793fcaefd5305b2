"""Standard Webhooks (https://www.standardwebhooks.com) `v1` signatures, computed by the `standardwebhooks`
package and wrapped for what it leaves to us: several secrets (rotation), an injectable clock and tolerance,
and telling a malformed request (400) from a bad or stale signature (401).

The package's own `Webhook.verify` is not called: it checks the timestamp against the real clock with a
fixed 5 minutes, takes one secret and raises ValueError on a signature entry without a comma. So the
headers and the time are checked here, and the package signs the message under each secret for comparison.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import standardwebhooks

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
# The spec asks for at least 24 random bytes; 64 bytes is the HMAC-SHA256 block size.
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
GENERATED_SECRET_BYTES = 32

_MAX_ID_LENGTH = 256
_MAX_SIGNATURES = 16
_TIMESTAMP_PATTERN = re.compile(r"[0-9]{1,12}")


# The names below end in "Webhook"/"Signature" rather than "Error" so they read as the outcome the
# endpoint maps to a status: MalformedWebhook -> 400, InvalidWebhookSignature and StaleWebhook -> 401.
class WebhookRejected(Exception):  # noqa: N818
    """The request cannot be accepted as a webhook from a holder of one of our secrets."""


class MalformedWebhook(WebhookRejected):
    """A header is missing or not in the format the specification prescribes."""


class InvalidWebhookSecret(MalformedWebhook):
    """A configured secret is not `whsec_` followed by base64 of 24 to 64 bytes."""


class InvalidWebhookSignature(WebhookRejected):
    """No `v1` signature in the header matches the body under any of our secrets."""


class StaleWebhook(WebhookRejected):
    """The timestamp lies outside the tolerance, so the request may be a replay."""


@dataclass(frozen=True, slots=True)
class VerifiedWebhook:
    id: str
    timestamp: int


def decode_webhook_secret(secret: str) -> bytes:
    """The HMAC key a `whsec_<base64>` secret stands for."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidWebhookSecret(f"a webhook secret must start with {SECRET_PREFIX!r}")
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidWebhookSecret("a webhook secret must be base64 after its prefix") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise InvalidWebhookSecret(
            f"a webhook secret must decode to {MIN_SECRET_BYTES}..{MAX_SECRET_BYTES} bytes, not {len(key)}"
        )
    return key


def parse_webhook_secrets(value: str) -> list[str]:
    """Secrets from a comma- or whitespace-separated list, e.g. an environment variable; each is validated."""
    found = [item for item in re.split(r"[\s,]+", value) if item]
    for secret in found:
        decode_webhook_secret(secret)
    return found


def generate_webhook_secret(num_bytes: int = GENERATED_SECRET_BYTES) -> str:
    if not MIN_SECRET_BYTES <= num_bytes <= MAX_SECRET_BYTES:
        raise ValueError(f"num_bytes must be between {MIN_SECRET_BYTES} and {MAX_SECRET_BYTES}")
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(num_bytes)).decode("ascii")


def _library_webhooks(secrets: Sequence[str]) -> list[standardwebhooks.Webhook]:
    # Our decoding first: the package accepts any base64 and any length.
    return [standardwebhooks.Webhook(decode_webhook_secret(secret)) for secret in secrets]


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedWebhook("a webhook body must be UTF-8 text") from None


def _signatures(
    webhooks: Sequence[standardwebhooks.Webhook], msg_id: str, timestamp: int, text: str
) -> list[str]:
    signed_at = datetime.fromtimestamp(timestamp, UTC)
    return [webhook.sign(msg_id, signed_at, text) for webhook in webhooks]


class WebhookSigner:
    """Signs outgoing webhooks; `previous_secrets` add signatures so receivers can rotate without downtime."""

    def __init__(
        self,
        secret: str,
        *,
        previous_secrets: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._webhooks = _library_webhooks((secret, *previous_secrets))
        self._clock = clock

    def sign(self, msg_id: str, timestamp: int, body: bytes) -> str:
        """The `webhook-signature` value: one `v1,<base64>` per secret, space-separated."""
        _check_id(msg_id)
        return " ".join(_signatures(self._webhooks, msg_id, timestamp, _text(body)))

    def headers(self, msg_id: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        """All three headers; `msg_id` must stay the same across retries of one event."""
        sent_at = int(self._clock()) if timestamp is None else timestamp
        return {
            ID_HEADER: msg_id,
            TIMESTAMP_HEADER: str(sent_at),
            SIGNATURE_HEADER: self.sign(msg_id, sent_at, body),
        }


class WebhookVerifier:
    """Accepts a webhook signed with any of `secrets` whose timestamp is within +-tolerance of now."""

    def __init__(
        self,
        secrets: Sequence[str],
        tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secrets:
            raise InvalidWebhookSecret("at least one webhook secret is required")
        if tolerance_seconds < 0:
            raise ValueError("tolerance_seconds must not be negative")
        self._webhooks = _library_webhooks(secrets)
        self._tolerance = tolerance_seconds
        self._clock = clock

    def verify(self, body: bytes, headers: Mapping[str, str], *, now: float | None = None) -> VerifiedWebhook:
        """Check the raw body against the headers (names case-insensitive); raise a WebhookRejected."""
        lowered = {name.lower(): value for name, value in headers.items()}
        msg_id = _required(lowered, ID_HEADER)
        raw_timestamp = _required(lowered, TIMESTAMP_HEADER)
        raw_signatures = _required(lowered, SIGNATURE_HEADER)
        _check_id(msg_id)
        if _TIMESTAMP_PATTERN.fullmatch(raw_timestamp) is None:
            raise MalformedWebhook(f"{TIMESTAMP_HEADER} must be integer Unix seconds")
        timestamp = int(raw_timestamp)
        candidates = _parse_signatures(raw_signatures)
        text = _text(body)

        current = self._clock() if now is None else now
        if abs(current - timestamp) > self._tolerance:
            raise StaleWebhook(f"{TIMESTAMP_HEADER} is more than {self._tolerance} s away from now")

        expected = [_decoded(signature) for signature in _signatures(self._webhooks, msg_id, timestamp, text)]
        # Compare every pair so the time taken does not depend on where a match is.
        matched = False
        for candidate in candidates:
            for digest in expected:
                matched |= hmac.compare_digest(candidate, digest)
        if not matched:
            raise InvalidWebhookSignature("no signature matches the body")
        return VerifiedWebhook(id=msg_id, timestamp=timestamp)


def _decoded(signature: str) -> bytes:
    return base64.b64decode(signature.partition(",")[2])


def _required(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise MalformedWebhook(f"the {name} header is missing")
    return value


def _check_id(msg_id: str) -> None:
    # The spec forbids "." in ids: it delimits the signed content.
    if not msg_id or len(msg_id) > _MAX_ID_LENGTH or "." in msg_id or not msg_id.isprintable():
        raise MalformedWebhook(f"{ID_HEADER} must be 1..{_MAX_ID_LENGTH} printable characters without '.'")


def _parse_signatures(header: str) -> list[bytes]:
    """The decoded `v1` signatures; other versions (e.g. asymmetric `v1a`) are skipped."""
    entries = header.split()
    if len(entries) > _MAX_SIGNATURES:
        raise MalformedWebhook(f"{SIGNATURE_HEADER} carries more than {_MAX_SIGNATURES} signatures")
    decoded: list[bytes] = []
    for entry in entries:
        version, separator, encoded = entry.partition(",")
        if not separator or not version or not encoded:
            raise MalformedWebhook(f"{SIGNATURE_HEADER} entries must look like 'v1,<base64>'")
        if version != SIGNATURE_VERSION:
            continue
        try:
            decoded.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue  # undecodable, so it cannot match: reported as a bad signature below
    return decoded
