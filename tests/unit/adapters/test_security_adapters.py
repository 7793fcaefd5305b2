"""argon2 password hashing, JWT access tokens and job stream tickets."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt
import pytest
from argon2 import PasswordHasher

from adapters.security.passwords import Argon2PasswordHasher
from adapters.security.tokens import JwtAccessTokenIssuer, JwtStreamTickets
from domain.accounts import Principal, Role
from domain.errors import AuthenticationError

SECRET = "test-jwt-secret-0123456789abcdef0123456789"
OTHER_SECRET = "another-jwt-secret-0123456789abcdef012345"
LIFETIME = timedelta(hours=1)
PRINCIPAL = Principal(user_id=UUID("0190a6b2-7c3e-7a10-8000-000000000001"), role=Role.USER)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


@pytest.fixture(scope="module")
def hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher()


@pytest.fixture(scope="module")
def password_hash(hasher: Argon2PasswordHasher) -> str:
    return asyncio.run(hasher.hash("correct horse battery"))


def test_hash_does_not_contain_the_password(password_hash: str) -> None:
    assert "correct horse battery" not in password_hash


async def test_verify_accepts_the_right_password(hasher: Argon2PasswordHasher, password_hash: str) -> None:
    assert await hasher.verify(password_hash, "correct horse battery") is True


async def test_verify_rejects_a_wrong_password(hasher: Argon2PasswordHasher, password_hash: str) -> None:
    assert await hasher.verify(password_hash, "correct horse battery!") is False


@pytest.mark.parametrize("garbage", ["", "not-a-hash", "$argon2id$v=19$m=65536,t=3,p=4$broken"])
async def test_verify_returns_false_for_a_garbage_hash(hasher: Argon2PasswordHasher, garbage: str) -> None:
    assert await hasher.verify(garbage, "correct horse battery") is False


def test_a_hash_made_with_weaker_parameters_needs_rehash(hasher: Argon2PasswordHasher) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("correct horse battery")
    assert hasher.needs_rehash(weak) is True


async def test_the_event_loop_keeps_running_while_a_password_is_hashed(hasher: Argon2PasswordHasher) -> None:
    """A hash on the loop would let no other task run until it finished: the ticker would count 0."""
    ticks = 0
    hashing = asyncio.ensure_future(hasher.hash("correct horse battery"))

    async def tick() -> None:
        nonlocal ticks
        while not hashing.done():
            ticks += 1
            await asyncio.sleep(0.001)

    await asyncio.gather(hashing, tick())
    assert ticks >= 3


def test_a_hash_made_with_current_parameters_needs_no_rehash(
    hasher: Argon2PasswordHasher, password_hash: str
) -> None:
    assert hasher.needs_rehash(password_hash) is False


def issuer(secret: str = SECRET, now: datetime | None = None) -> JwtAccessTokenIssuer:
    return JwtAccessTokenIssuer(secret, FakeClock(now or datetime.now(UTC)), LIFETIME)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def test_an_issued_token_verifies_to_the_same_principal() -> None:
    access_tokens = issuer()
    assert access_tokens.verify(access_tokens.issue(PRINCIPAL).token) == PRINCIPAL


def test_issued_token_reports_its_lifetime() -> None:
    assert issuer().issue(PRINCIPAL).expires_in_seconds == LIFETIME.total_seconds()


def test_issue_time_comes_from_the_clock() -> None:
    issued_at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    token = issuer(now=issued_at).issue(PRINCIPAL).token
    assert _claims(token)["iat"] == int(issued_at.timestamp())


def test_an_expired_token_is_rejected() -> None:
    token = issuer(now=datetime.now(UTC) - timedelta(days=30)).issue(PRINCIPAL).token
    with pytest.raises(AuthenticationError):
        issuer().verify(token)


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    clock = FakeClock(datetime.now(UTC))
    access_tokens = JwtAccessTokenIssuer(SECRET, clock, LIFETIME)
    token = access_tokens.issue(PRINCIPAL).token
    assert access_tokens.verify(token) == PRINCIPAL

    clock.current = datetime.fromtimestamp(_claims(token)["exp"], UTC)  # expired from this second on
    with pytest.raises(AuthenticationError):
        access_tokens.verify(token)


def test_a_token_is_verified_in_full_once(monkeypatch: pytest.MonkeyPatch) -> None:
    access_tokens = issuer()
    token = access_tokens.issue(PRINCIPAL).token
    decoded: list[str] = []
    decode = jwt.decode

    def counting_decode(jwt_text: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(jwt_text)
        return decode(jwt_text, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)

    assert [access_tokens.verify(token) for _ in range(3)] == [PRINCIPAL] * 3
    assert decoded == [token]


def test_a_remembered_token_does_not_vouch_for_an_edited_copy() -> None:
    access_tokens = issuer()
    token = access_tokens.issue(PRINCIPAL).token
    access_tokens.verify(token)
    header, payload, signature = token.split(".")
    tampered = ("B" if signature[0] == "A" else "A") + signature[1:]
    with pytest.raises(AuthenticationError):
        access_tokens.verify(f"{header}.{payload}.{tampered}")


def test_a_token_with_a_tampered_signature_is_rejected() -> None:
    header, payload, signature = issuer().issue(PRINCIPAL).token.split(".")
    # Flip the first signature character: the last one also carries padding bits that may not decode.
    tampered = ("B" if signature[0] == "A" else "A") + signature[1:]
    with pytest.raises(AuthenticationError):
        issuer().verify(f"{header}.{payload}.{tampered}")


def test_a_token_whose_claims_were_edited_is_rejected() -> None:
    token = issuer().issue(PRINCIPAL).token
    header, _, signature = token.split(".")
    claims = _claims(token) | {"role": Role.ADMIN.value}
    forged_payload = _b64(json.dumps(claims).encode())
    with pytest.raises(AuthenticationError):
        issuer().verify(f"{header}.{forged_payload}.{signature}")


def test_a_token_signed_with_another_secret_is_rejected() -> None:
    token = issuer(secret=OTHER_SECRET).issue(PRINCIPAL).token
    with pytest.raises(AuthenticationError):
        issuer().verify(token)


def test_an_unsigned_alg_none_token_is_rejected() -> None:
    claims = _claims(issuer().issue(PRINCIPAL).token) | {"role": Role.ADMIN.value}
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    token = f"{header}.{_b64(json.dumps(claims).encode())}."
    with pytest.raises(AuthenticationError):
        issuer().verify(token)


@pytest.mark.parametrize("missing", ["sub", "role", "exp", "iat", "iss"])
def test_a_token_missing_a_claim_is_rejected(missing: str) -> None:
    claims = _claims(issuer().issue(PRINCIPAL).token)
    del claims[missing]
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    with pytest.raises(AuthenticationError):
        issuer().verify(token)


def test_a_token_from_another_issuer_is_rejected() -> None:
    claims = _claims(issuer().issue(PRINCIPAL).token) | {"iss": "someone-else"}
    with pytest.raises(AuthenticationError):
        issuer().verify(jwt.encode(claims, SECRET, algorithm="HS256"))


@pytest.mark.parametrize("garbage", ["", "not.a.jwt", "a.b", "x" * 40])
def test_a_malformed_token_is_rejected(garbage: str) -> None:
    with pytest.raises(AuthenticationError):
        issuer().verify(garbage)


JOB = UUID("0190a6b2-7c3e-7a10-8000-00000000000a")
OTHER_JOB = UUID("0190a6b2-7c3e-7a10-8000-00000000000b")


def tickets(now: datetime | None = None, secret: str = SECRET) -> JwtStreamTickets:
    return JwtStreamTickets(secret, FakeClock(now or datetime.now(UTC)), LIFETIME)


def test_a_stream_ticket_verifies_for_its_job_to_its_principal() -> None:
    ticket = tickets().issue(PRINCIPAL, JOB)
    assert tickets().verify(ticket.token, JOB) == PRINCIPAL
    assert ticket.expires_in_seconds == LIFETIME.total_seconds()


def test_a_stream_ticket_is_rejected_for_another_job() -> None:
    with pytest.raises(AuthenticationError):
        tickets().verify(tickets().issue(PRINCIPAL, JOB).token, OTHER_JOB)


def test_an_expired_stream_ticket_is_rejected() -> None:
    old = tickets(now=datetime.now(UTC) - LIFETIME - timedelta(minutes=1)).issue(PRINCIPAL, JOB).token
    with pytest.raises(AuthenticationError):
        tickets().verify(old, JOB)


def test_a_stream_ticket_signed_with_another_secret_is_rejected() -> None:
    with pytest.raises(AuthenticationError):
        tickets().verify(tickets(secret=OTHER_SECRET).issue(PRINCIPAL, JOB).token, JOB)


def test_stream_tickets_and_access_tokens_are_not_interchangeable() -> None:
    with pytest.raises(AuthenticationError):
        issuer().verify(tickets().issue(PRINCIPAL, JOB).token)
    with pytest.raises(AuthenticationError):
        tickets().verify(issuer().issue(PRINCIPAL).token, JOB)
