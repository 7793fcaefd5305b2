"""The demo catalog: invented actors and lines, two public-domain scripts, with espeak-ng reference audio.

The audio and timings were made by tests/support/demo_catalog.py and are shipped with the project, so
loading them needs no speech synthesis. Loading goes through the same use cases as the admin API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

from application.catalog import ActorInput, ScriptInput, TokenInput
from application.ports.persistence import PageRequest, TokenFilter
from domain.accounts import Principal, Role
from domain.catalog import ReferenceKind, Word
from entrypoints.bootstrap import Container

DEMO_DIR = Path(__file__).resolve().parent
# The seed acts as an administrator without an account of its own.
SEED_PRINCIPAL = Principal(user_id=UUID(int=0), role=Role.ADMIN)


def _words(raw: list[dict[str, Any]]) -> list[Word]:
    return [Word(int(w["index"]), str(w["text"]), float(w["start"]), float(w["end"])) for w in raw]


async def load_demo_catalog(container: Container) -> str:
    existing = await container.catalog_queries.list_tokens(TokenFilter(), PageRequest(limit=1))
    if existing.total:
        return f"catalog already has {existing.total} tokens; demo catalog not loaded"
    catalog = json.loads((DEMO_DIR / "catalog.json").read_text())
    admin = container.catalog_admin
    actors = {}
    for actor in catalog["actors"]:
        created = await admin.create_actor(SEED_PRINCIPAL, ActorInput(actor["name"], actor["bio"]))
        actors[actor["key"]] = created.id
    for token in catalog["tokens"]:
        entry = await admin.create_token(
            SEED_PRINCIPAL,
            TokenInput(
                actor_id=actors[token["actor"]],
                movie_title=token["movie_title"],
                movie_year=token["movie_year"],
                text=token["text"],
                words=_words(token["words"]),
            ),
        )
        audio = (DEMO_DIR / token["audio"]).read_bytes()
        await admin.upload_reference_audio(SEED_PRINCIPAL, ReferenceKind.TOKEN, entry.token.id, audio)
    for script in catalog["scripts"]:
        created_script = await admin.create_script(
            SEED_PRINCIPAL,
            ScriptInput(title=script["title"], text=script["text"], words=_words(script["words"])),
        )
        audio = (DEMO_DIR / script["audio"]).read_bytes()
        await admin.upload_reference_audio(SEED_PRINCIPAL, ReferenceKind.SCRIPT, created_script.id, audio)
    return (
        f"demo catalog loaded: {len(actors)} actors, {len(catalog['tokens'])} tokens, "
        f"{len(catalog['scripts'])} scripts"
    )
