"""Translation between table rows and domain objects."""

from __future__ import annotations

from adapters.persistence.models import ActorRow, ReferenceAudioColumns, ScriptRow, TokenRow, UserRow, WordRow
from domain.accounts import Role, User
from domain.catalog import Actor, ReferenceAudio, Script, Token, Word


def user_from_row(row: UserRow) -> User:
    return User(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        password_hash=row.password_hash,
        role=Role(row.role),
        created_at=row.created_at,
    )


def actor_from_row(row: ActorRow) -> Actor:
    return Actor(id=row.id, name=row.name, bio=row.bio, created_at=row.created_at)


def word_from_row(row: WordRow) -> Word:
    return Word(
        index=row.index,
        text=row.text,
        start=row.start,
        end=row.end,
        reference_features=row.reference_features,
    )


def word_rows(words: list[Word]) -> list[WordRow]:
    return [
        WordRow(
            index=word.index,
            text=word.text,
            start=word.start,
            end=word.end,
            reference_features=dict(word.reference_features) if word.reference_features is not None else None,
        )
        for word in words
    ]


def reference_audio_from_row(row: ReferenceAudioColumns) -> ReferenceAudio | None:
    if row.reference_audio_key is None:
        return None
    return ReferenceAudio(
        key=row.reference_audio_key,
        content_type=row.reference_audio_content_type or "application/octet-stream",
        duration_seconds=row.reference_audio_duration or 0.0,
    )


def write_reference_audio(row: ReferenceAudioColumns, audio: ReferenceAudio | None) -> None:
    row.reference_audio_key = audio.key if audio else None
    row.reference_audio_content_type = audio.content_type if audio else None
    row.reference_audio_duration = audio.duration_seconds if audio else None


def token_from_row(row: TokenRow, *, with_words: bool = True) -> Token:
    return Token(
        id=row.id,
        actor_id=row.actor_id,
        movie_title=row.movie_title,
        movie_year=row.movie_year,
        text=row.text,
        created_at=row.created_at,
        words=[word_from_row(word) for word in row.words] if with_words else [],
        reference_audio=reference_audio_from_row(row),
    )


def script_from_row(row: ScriptRow, *, with_words: bool = True) -> Script:
    return Script(
        id=row.id,
        title=row.title,
        text=row.text,
        created_at=row.created_at,
        words=[word_from_row(word) for word in row.words] if with_words else [],
        reference_audio=reference_audio_from_row(row),
        feature_config_version=row.feature_config_version,
    )
