"""Account use cases: sign up, log in, who am I, and creating admins."""

from __future__ import annotations

from dataclasses import dataclass

from application.ports.persistence import UnitOfWorkFactory
from application.ports.security import AccessToken, AccessTokenIssuer, PasswordHasher
from application.ports.system import Clock, IdGenerator
from domain.accounts import Principal, Role, User, check_password_policy, normalise_email
from domain.catalog import require_text
from domain.errors import AuthenticationError, ConflictError, InvalidInputError

MAX_DISPLAY_NAME_LENGTH = 80


@dataclass(frozen=True, slots=True)
class SignUpRequest:
    email: str
    password: str
    display_name: str


@dataclass(frozen=True, slots=True)
class Credentials:
    email: str
    password: str


class Registration:
    """Create an account. The email is unique regardless of case; a taken email is a conflict."""

    def __init__(
        self, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock, ids: IdGenerator
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock
        self._ids = ids

    async def sign_up(self, request: SignUpRequest, role: Role = Role.USER) -> User:
        email = normalise_email(request.email)
        check_password_policy(request.password)
        display_name = require_text("display_name", request.display_name, MAX_DISPLAY_NAME_LENGTH)
        user = User(
            id=self._ids.new_id(),
            email=email,
            display_name=display_name,
            password_hash=await self._hasher.hash(request.password),
            role=role,
            created_at=self._clock.now(),
        )
        async with self._uow() as uow:
            if await uow.users.get_by_email(email) is not None:
                raise ConflictError("an account with this email already exists")
            await uow.users.add(user)
            await uow.commit()
        return user

    async def create_or_promote_admin(self, request: SignUpRequest) -> User:
        """CLI path: make the account an admin, creating it when it does not exist yet."""
        email = normalise_email(request.email)
        async with self._uow() as uow:
            existing = await uow.users.get_by_email(email)
            if existing is not None:
                check_password_policy(request.password)
                existing.role = Role.ADMIN
                existing.password_hash = await self._hasher.hash(request.password)
                await uow.users.save(existing)
                await uow.commit()
                return existing
        return await self.sign_up(request, role=Role.ADMIN)


class Authentication:
    """Exchange credentials for an access token; a wrong email and a wrong password look the same."""

    _FAILURE = "the email or password is incorrect"

    def __init__(
        self, uow: UnitOfWorkFactory, hasher: PasswordHasher, access_tokens: AccessTokenIssuer
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._access_tokens = access_tokens
        # Verifying against a real hash when the account is missing keeps both failures equally slow.
        self._dummy_hash: str | None = None

    async def log_in(self, credentials: Credentials) -> AccessToken:
        try:
            email = normalise_email(credentials.email)
        except InvalidInputError:
            email = ""
        async with self._uow() as uow:
            user = await uow.users.get_by_email(email) if email else None
            if user is None:
                await self._hasher.verify(await self._timing_equaliser(), credentials.password)
                raise AuthenticationError(self._FAILURE)
            if not await self._hasher.verify(user.password_hash, credentials.password):
                raise AuthenticationError(self._FAILURE)
            if self._hasher.needs_rehash(user.password_hash):
                user.password_hash = await self._hasher.hash(credentials.password)
                await uow.users.save(user)
                await uow.commit()
        return self._access_tokens.issue(Principal(user_id=user.id, role=user.role))

    async def _timing_equaliser(self) -> str:
        """A hash made with the hasher's current parameters, so a missing account costs a real verify."""
        if self._dummy_hash is None:
            self._dummy_hash = await self._hasher.hash("timing-equaliser-not-a-password")
        return self._dummy_hash

    def authenticate(self, bearer_token: str) -> Principal:
        return self._access_tokens.verify(bearer_token)


class Profiles:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def confirm(self, principal: Principal) -> Principal:
        """The caller with the role the account holds now, not the one its token was issued with: an
        admin demoted (or deleted) after log-in loses admin rights at once, not when the token expires."""
        user = await self.me(principal)
        return principal if user.role is principal.role else Principal(user_id=user.id, role=user.role)

    async def me(self, principal: Principal) -> User:
        """The caller's account; a valid token for a deleted account no longer authenticates."""
        async with self._uow() as uow:
            user = await uow.users.get(principal.user_id)
        if user is None:
            raise AuthenticationError("the account behind this token no longer exists")
        return user
