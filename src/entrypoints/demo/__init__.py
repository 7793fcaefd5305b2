"""The demo catalog: invented actors and lines, two public-domain scripts, with espeak-ng reference audio.

The audio and timings were made by tests/support/demo_catalog.py and are shipped with the project, so
loading them needs no speech synthesis. Loading goes through the same use cases as the admin API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

from application.catalog import ActorInput, MovieLineInput, ScriptInput
from application.ports.persistence import MovieLineFilter, PageRequest
from domain.accounts import Principal, Role
from domain.catalog import Word
from entrypoints.bootstrap import Container

DEMO_DIR = Path(__file__).resolve().parent
# The seed acts as an administrator without an account of its own.
SEED_PRINCIPAL = Principal(user_id=UUID(int=0), role=Role.ADMIN)


def _words(raw: list[dict[str, Any]]) -> list[Word]:
    return [Word(int(w["index"]), str(w["text"]), float(w["start"]), float(w["end"])) for w in raw]


async def load_demo_catalog(container: Container) -> str:
    existing = await container.catalog_queries.list_movie_lines(MovieLineFilter(), PageRequest(limit=1))
    if existing.total:
        return f"catalog already has {existing.total} tokens; demo catalog not loaded"
    catalog = json.loads((DEMO_DIR / "catalog.json").read_text())
    admin = container.catalog_admin
    actors = {}
    for actor in catalog["actors"]:
        created = await admin.create_actor(SEED_PRINCIPAL, ActorInput(actor["name"], actor["bio"]))
        actors[actor["key"]] = created.id
    items: list[tuple[MovieLineInput | ScriptInput, str]] = [
        (
            MovieLineInput(
                actor_id=actors[line["actor"]],
                movie_title=line["movie_title"],
                movie_year=line["movie_year"],
                text=line["text"],
                words=_words(line["words"]),
            ),
            line["audio"],
        )
        for line in catalog["tokens"]
    ]
    items += [
        (
            ScriptInput(title=script["title"], text=script["text"], words=_words(script["words"])),
            script["audio"],
        )
        for script in catalog["scripts"]
    ]
    for data, audio_file in items:
        item = await admin.create_item(SEED_PRINCIPAL, data)
        audio = (DEMO_DIR / audio_file).read_bytes()
        await admin.upload_reference_audio(SEED_PRINCIPAL, item.kind, item.id, audio)
    return (
        f"demo catalog loaded: {len(actors)} actors, {len(catalog['tokens'])} tokens, "
        f"{len(catalog['scripts'])} scripts"
    )
