"""Account use cases against in-memory fakes."""

from __future__ import annotations

import pytest
from tests.unit.application.fakes import (
    FakeAccessTokenIssuer,
    FakeDatabase,
    FixedClock,
    PlainTextHasher,
    SequentialIds,
)

from application.accounts import Authentication, Credentials, Profiles, Registration, SignUpRequest
from domain.accounts import Principal, Role
from domain.errors import AuthenticationError, ConflictError, InvalidInputError


@pytest.fixture
def database() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def hasher() -> PlainTextHasher:
    return PlainTextHasher()


@pytest.fixture
def registration(database: FakeDatabase, hasher: PlainTextHasher) -> Registration:
    return Registration(database, hasher, FixedClock(), SequentialIds())


@pytest.fixture
def authentication(database: FakeDatabase, hasher: PlainTextHasher) -> Authentication:
    return Authentication(database, hasher, FakeAccessTokenIssuer())


async def test_sign_up_normalises_the_email_and_stores_only_a_hash(
    registration: Registration, database: FakeDatabase
) -> None:
    user = await registration.sign_up(SignUpRequest("  Ada@Example.COM ", "long enough", "Ada"))
    stored = database.tables.users[user.id]
    assert stored.email == "ada@example.com"
    assert stored.password_hash != "long enough"
    assert stored.role is Role.USER


async def test_sign_up_with_a_taken_email_is_a_conflict_and_writes_nothing(
    registration: Registration, database: FakeDatabase
) -> None:
    await registration.sign_up(SignUpRequest("ada@example.com", "long enough", "Ada"))
    with pytest.raises(ConflictError):
        await registration.sign_up(SignUpRequest("ADA@example.com", "other password", "Imposter"))
    assert len(database.tables.users) == 1


@pytest.mark.parametrize(
    ("email", "password", "name", "field"),
    [
        ("nope", "long enough", "A", "email"),
        ("a@example.com", "short", "A", "password"),
        ("a@example.com", "x" * 257, "A", "password"),
        ("a@example.com", "long enough", "   ", "display_name"),
    ],
)
async def test_sign_up_rejects_invalid_input_naming_the_field(
    registration: Registration, database: FakeDatabase, email: str, password: str, name: str, field: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        await registration.sign_up(SignUpRequest(email, password, name))
    assert raised.value.field == field
    assert database.commits == 0


async def test_log_in_failures_do_not_say_which_part_was_wrong(
    registration: Registration, authentication: Authentication
) -> None:
    await registration.sign_up(SignUpRequest("ada@example.com", "long enough", "Ada"))
    with pytest.raises(AuthenticationError) as wrong_password:
        await authentication.log_in(Credentials("ada@example.com", "wrong password"))
    with pytest.raises(AuthenticationError) as unknown_email:
        await authentication.log_in(Credentials("bob@example.com", "long enough"))
    with pytest.raises(AuthenticationError) as malformed_email:
        await authentication.log_in(Credentials("not an email", "long enough"))
    assert wrong_password.value.message == unknown_email.value.message == malformed_email.value.message


async def test_log_in_issues_a_token_for_the_users_role(
    registration: Registration, authentication: Authentication
) -> None:
    user = await registration.sign_up(SignUpRequest("ada@example.com", "long enough", "Ada"))
    token = await authentication.log_in(Credentials("ADA@example.com", "long enough"))
    assert authentication.authenticate(token.token) == Principal(user.id, Role.USER)


async def test_log_in_upgrades_an_outdated_password_hash(
    registration: Registration,
    authentication: Authentication,
    hasher: PlainTextHasher,
    database: FakeDatabase,
) -> None:
    user = await registration.sign_up(SignUpRequest("ada@example.com", "long enough", "Ada"))
    hasher.scheme = "v2"
    await authentication.log_in(Credentials("ada@example.com", "long enough"))
    assert database.tables.users[user.id].password_hash == "v2:long enough"


async def test_create_admin_promotes_an_existing_account(
    registration: Registration, database: FakeDatabase
) -> None:
    user = await registration.sign_up(SignUpRequest("ada@example.com", "long enough", "Ada"))
    promoted = await registration.create_or_promote_admin(
        SignUpRequest("ada@example.com", "new password", "Ada")
    )
    assert promoted.id == user.id
    assert database.tables.users[user.id].role is Role.ADMIN


async def test_me_for_a_deleted_account_is_unauthenticated(database: FakeDatabase) -> None:
    from tests.unit.application.fakes import random_id

    with pytest.raises(AuthenticationError):
        await Profiles(database).me(Principal(random_id(), Role.USER))
