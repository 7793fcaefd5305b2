"""Request and response bodies of the HTTP API (msgspec Structs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from application.accounts import MAX_DISPLAY_NAME_LENGTH
from application.analysis.jobs import History
from application.bookmarks import MyPage
from application.ports.persistence import BookmarkedItem, Page, TokenWithActor
from domain.accounts import MAX_EMAIL_LENGTH, User
from domain.catalog import Actor, ReferenceAudio, Script, Word
from entrypoints.http.job_schemas import HistoryOut, JobPage, StatsOut

Email = Annotated[str, Meta(min_length=3, max_length=MAX_EMAIL_LENGTH, examples=["ada@example.com"])]
Password = Annotated[str, Meta(min_length=1, max_length=1024)]
ShortText = Annotated[str, Meta(min_length=1, max_length=200)]
Seconds = Annotated[float, Meta(ge=0, le=3600)]


class SignUpBody(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    display_name: Annotated[str, Meta(min_length=1, max_length=MAX_DISPLAY_NAME_LENGTH)]


class UserOut(msgspec.Struct):
    id: UUID
    email: str
    display_name: str
    role: str
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(user.id, user.email, user.display_name, user.role.value, user.created_at)


class TokenResponse(msgspec.Struct):
    """OAuth2 access token response (RFC 6749 section 5.1)."""

    access_token: str
    expires_in: int
    token_type: str = "bearer"


class ActorBody(msgspec.Struct, forbid_unknown_fields=True):
    name: ShortText
    bio: Annotated[str, Meta(max_length=4000)] = ""


class ActorOut(msgspec.Struct):
    id: UUID
    name: str
    bio: str
    created_at: datetime

    @classmethod
    def of(cls, actor: Actor) -> ActorOut:
        return cls(actor.id, actor.name, actor.bio, actor.created_at)


class WordBody(msgspec.Struct, forbid_unknown_fields=True):
    index: Annotated[int, Meta(ge=0, le=100_000)]
    text: Annotated[str, Meta(min_length=1, max_length=100)]
    start: Seconds
    end: Seconds

    def to_domain(self) -> Word:
        return Word(index=self.index, text=self.text, start=self.start, end=self.end)


class WordOut(msgspec.Struct):
    index: int
    text: str
    start: float
    end: float
    reference_features: dict[str, Any] | None = None

    @classmethod
    def of(cls, word: Word) -> WordOut:
        features = dict(word.reference_features) if word.reference_features is not None else None
        return cls(word.index, word.text, word.start, word.end, features)


class ReferenceAudioOut(msgspec.Struct):
    content_type: str
    duration_seconds: float
    url: str

    @classmethod
    def of(cls, audio: ReferenceAudio | None, url: str) -> ReferenceAudioOut | None:
        return cls(audio.content_type, audio.duration_seconds, url) if audio else None


class TokenBody(msgspec.Struct, forbid_unknown_fields=True):
    actor_id: UUID
    movie_title: ShortText
    text: Annotated[str, Meta(min_length=1, max_length=1000)]
    movie_year: Annotated[int, Meta(ge=1878, le=2100)] | None = None
    words: Annotated[list[WordBody], Meta(max_length=500)] = []


class TokenOut(msgspec.Struct):
    id: UUID
    actor: ActorOut
    movie_title: str
    movie_year: int | None
    text: str
    words: list[WordOut]
    reference_audio: ReferenceAudioOut | None
    created_at: datetime

    @classmethod
    def of(cls, entry: TokenWithActor) -> TokenOut:
        token = entry.token
        return cls(
            id=token.id,
            actor=ActorOut.of(entry.actor),
            movie_title=token.movie_title,
            movie_year=token.movie_year,
            text=token.text,
            words=[WordOut.of(word) for word in token.words],
            reference_audio=ReferenceAudioOut.of(
                token.reference_audio, f"/tokens/{token.id}/reference-audio"
            ),
            created_at=token.created_at,
        )


class ScriptBody(msgspec.Struct, forbid_unknown_fields=True):
    title: ShortText
    text: Annotated[str, Meta(min_length=1, max_length=20000)]
    words: Annotated[list[WordBody], Meta(max_length=5000)] = []


class ScriptSummaryOut(msgspec.Struct):
    id: UUID
    title: str
    text: str
    reference_audio: ReferenceAudioOut | None
    created_at: datetime

    @classmethod
    def of(cls, script: Script) -> ScriptSummaryOut:
        return cls(
            script.id,
            script.title,
            script.text,
            ReferenceAudioOut.of(script.reference_audio, f"/scripts/{script.id}/reference-audio"),
            script.created_at,
        )


class ScriptOut(msgspec.Struct):
    id: UUID
    title: str
    text: str
    words: list[WordOut]
    feature_config_version: str | None
    reference_audio: ReferenceAudioOut | None
    created_at: datetime

    @classmethod
    def of(cls, script: Script) -> ScriptOut:
        return cls(
            id=script.id,
            title=script.title,
            text=script.text,
            words=[WordOut.of(word) for word in script.words],
            feature_config_version=script.feature_config_version,
            reference_audio=ReferenceAudioOut.of(
                script.reference_audio, f"/scripts/{script.id}/reference-audio"
            ),
            created_at=script.created_at,
        )


class ActorPage(msgspec.Struct):
    items: list[ActorOut]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, page: Page[Actor]) -> ActorPage:
        return cls([ActorOut.of(a) for a in page.items], page.total, page.limit, page.offset)


class TokenPage(msgspec.Struct):
    items: list[TokenOut]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, page: Page[TokenWithActor]) -> TokenPage:
        return cls([TokenOut.of(t) for t in page.items], page.total, page.limit, page.offset)


class ScriptPage(msgspec.Struct):
    items: list[ScriptSummaryOut]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, page: Page[Script]) -> ScriptPage:
        return cls([ScriptSummaryOut.of(s) for s in page.items], page.total, page.limit, page.offset)


class BookmarkOut(msgspec.Struct):
    kind: Literal["token", "script"]
    target_id: UUID
    bookmarked_at: datetime
    token: TokenOut | None = None
    script: ScriptSummaryOut | None = None

    @classmethod
    def of(cls, item: BookmarkedItem) -> BookmarkOut:
        bookmark = item.bookmark
        return cls(
            kind="token" if bookmark.kind.value == "token" else "script",
            target_id=bookmark.target_id,
            bookmarked_at=bookmark.created_at,
            token=TokenOut.of(item.token) if item.token else None,
            script=ScriptSummaryOut.of(item.script) if item.script else None,
        )


class MyPageOut(msgspec.Struct):
    profile: UserOut
    bookmarks: list[BookmarkOut]
    history: HistoryOut

    @classmethod
    def of(cls, page: MyPage, history: History) -> MyPageOut:
        return cls(
            UserOut.of(page.user),
            [BookmarkOut.of(item) for item in page.bookmarks],
            HistoryOut(stats=StatsOut.of(history.stats), recent=JobPage.of(history.jobs)),
        )


class ProbeOut(msgspec.Struct):
    name: str
    ok: bool
    error: str | None = None


class ReadinessOut(msgspec.Struct):
    status: str
    checks: list[ProbeOut]


class ProblemOut(msgspec.Struct):
    """RFC 9457 problem details; ``errors`` lists invalid fields for validation problems."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
