"""Request and response bodies of the HTTP API (msgspec Structs)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from msgspec import Meta

from application.accounts import MAX_DISPLAY_NAME_LENGTH
from application.analysis.jobs import History
from application.bookmarks import MyPage
from application.catalog import MovieLineInput, ScriptInput
from application.ports.persistence import BookmarkedItem
from domain.accounts import MAX_EMAIL_LENGTH, User
from domain.catalog import Actor, MovieLine, PracticeItem, ReferenceAudio, ReferenceKind, ScriptDetail, Word
from entrypoints.http.job_schemas import HistoryOut, JobOut, JobPage, StatsOut
from entrypoints.http.pages import PageOut
from entrypoints.http.versioning import API_V1

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


class AccessTokenResponse(msgspec.Struct):
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

    def to_input(self) -> MovieLineInput:
        return MovieLineInput(
            actor_id=self.actor_id,
            movie_title=self.movie_title,
            text=self.text,
            movie_year=self.movie_year,
            words=[word.to_domain() for word in self.words],
        )


def item_path(item: PracticeItem) -> str:
    """The item's public path: /v1/tokens/{id} for a movie line, /v1/scripts/{id} for a script."""
    return f"{API_V1}/{item.kind.value}s/{item.id}"


def _reference_audio_out(item: PracticeItem) -> ReferenceAudioOut | None:
    return ReferenceAudioOut.of(item.reference_audio, f"{item_path(item)}/reference-audio")


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
    def of(cls, item: PracticeItem) -> TokenOut:
        line = item.detail_as(MovieLine)
        return cls(
            id=item.id,
            actor=ActorOut.of(line.actor),
            movie_title=line.movie_title,
            movie_year=line.movie_year,
            text=item.text,
            words=[WordOut.of(word) for word in item.words],
            reference_audio=_reference_audio_out(item),
            created_at=item.created_at,
        )


class ScriptBody(msgspec.Struct, forbid_unknown_fields=True):
    title: ShortText
    text: Annotated[str, Meta(min_length=1, max_length=20000)]
    words: Annotated[list[WordBody], Meta(max_length=5000)] = []

    def to_input(self) -> ScriptInput:
        return ScriptInput(title=self.title, text=self.text, words=[word.to_domain() for word in self.words])


class ScriptSummaryOut(msgspec.Struct):
    id: UUID
    title: str
    text: str
    reference_audio: ReferenceAudioOut | None
    created_at: datetime

    @classmethod
    def of(cls, item: PracticeItem) -> ScriptSummaryOut:
        title = item.detail_as(ScriptDetail).title
        return cls(item.id, title, item.text, _reference_audio_out(item), item.created_at)


class ScriptOut(msgspec.Struct):
    id: UUID
    title: str
    text: str
    words: list[WordOut]
    feature_config_version: str | None
    reference_audio: ReferenceAudioOut | None
    created_at: datetime

    @classmethod
    def of(cls, item: PracticeItem) -> ScriptOut:
        return cls(
            id=item.id,
            title=item.detail_as(ScriptDetail).title,
            text=item.text,
            words=[WordOut.of(word) for word in item.words],
            feature_config_version=item.feature_config_version,
            reference_audio=_reference_audio_out(item),
            created_at=item.created_at,
        )


class ActorPage(PageOut[ActorOut]):
    """A page of actors."""


class TokenPage(PageOut[TokenOut]):
    """A page of tokens."""


class ScriptPage(PageOut[ScriptSummaryOut]):
    """A page of scripts, without their words."""


# What a bookmark embeds of its item, by kind (the field is named after the kind).
BOOKMARKED_ITEM_OUT: dict[ReferenceKind, Callable[[PracticeItem], TokenOut | ScriptSummaryOut]] = {
    MovieLine.kind: TokenOut.of,
    ScriptDetail.kind: ScriptSummaryOut.of,
}


class BookmarkOut(msgspec.Struct):
    kind: ReferenceKind
    target_id: UUID
    bookmarked_at: datetime
    token: TokenOut | None = None
    script: ScriptSummaryOut | None = None

    @classmethod
    def of(cls, bookmarked: BookmarkedItem) -> BookmarkOut:
        item = bookmarked.item
        return msgspec.structs.replace(
            cls(kind=item.kind, target_id=item.id, bookmarked_at=bookmarked.bookmark.created_at),
            **{item.kind.value: BOOKMARKED_ITEM_OUT[item.kind](item)},
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
            HistoryOut(stats=StatsOut.of(history.stats), recent=JobPage.of(history.jobs, JobOut.of)),
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
