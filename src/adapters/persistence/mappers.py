"""Translation between table rows and domain objects."""

from __future__ import annotations

from adapters.persistence.models import (
    ActorRow,
    MovieLineRow,
    PracticeItemRow,
    ReferenceAudioColumns,
    ScriptDetailRow,
    UserRow,
    WordRow,
)
from domain.accounts import Role, User
from domain.catalog import Actor, ItemDetail, MovieLine, PracticeItem, ReferenceAudio, ScriptDetail, Word


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


def item_from_row(row: PracticeItemRow, *, with_words: bool = True) -> PracticeItem:
    return PracticeItem(
        id=row.id,
        detail=_detail_from_row(row),
        text=row.text,
        created_at=row.created_at,
        words=[word_from_row(word) for word in row.words] if with_words else [],
        reference_audio=reference_audio_from_row(row),
        feature_config_version=row.feature_config_version,
        words_aligned=row.words_aligned,
    )


def _detail_from_row(row: PracticeItemRow) -> ItemDetail:
    if row.movie_line is not None:
        line = row.movie_line
        return MovieLine(actor_from_row(line.actor), line.movie_title, line.movie_year)
    if row.script is not None:
        return ScriptDetail(row.script.title)
    raise LookupError(f"practice item {row.id} has no detail row")


def write_item(item: PracticeItem, row: PracticeItemRow) -> None:
    """Copy the item onto its row and its detail row (created when the item is new)."""
    row.kind, row.text, row.feature_config_version = item.kind.value, item.text, item.feature_config_version
    row.words_aligned = item.words_aligned
    write_reference_audio(row, item.reference_audio)
    match item.detail:
        case MovieLine(actor=actor, movie_title=movie_title, movie_year=movie_year):
            line = row.movie_line or MovieLineRow(item_id=item.id)
            line.actor_id, line.movie_title, line.movie_year = actor.id, movie_title, movie_year
            row.movie_line = line
        case ScriptDetail(title=title):
            script = row.script or ScriptDetailRow(item_id=item.id)
            script.title = title
            row.script = script
