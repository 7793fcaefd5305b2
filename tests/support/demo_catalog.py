"""Regenerates the demo catalog's reference audio with espeak-ng: `uv run python -m tests.support.demo_catalog`.

The audio and word timings are committed under src/entrypoints/demo/, so `make run` needs no synthesis.
The lines and films are invented; the two scripts are public-domain phonetics passages.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.encoding import encode_audio
from tests.support.speech import Voice, synthesize

DEMO_DIR = Path(__file__).resolve().parents[2] / "src" / "entrypoints" / "demo"

ACTORS = {
    "ava": ("Ava Sterling", "Fictional lead of windswept dramas.", Voice("en-us+f3", rate=150, pitch=60)),
    "marcus": (
        "Marcus Vale",
        "Fictional character actor with a gravel voice.",
        Voice("en-gb+m3", rate=145, pitch=35),
    ),
    "lena": ("Lena Okafor", "Fictional star of seafaring adventures.", Voice("en-us+f2", rate=160, pitch=55)),
}
TOKENS = [
    ("ava", "The Last Lighthouse", 1998, "I never said it would be easy. I said it would be worth it."),
    ("ava", "Northern Lights", 2011, "Every ending is just a beginning in disguise."),
    ("marcus", "Midnight Express Line", 2004, "Keep your eyes on the road and your hands on the wheel."),
    ("marcus", "Glass Mountain", 1995, "Tell me the truth, and I will tell you mine."),
    ("lena", "Harbor of Secrets", 2016, "We do not get to choose the storm, only how we sail."),
]
SCRIPTS = [
    (
        "The North Wind and the Sun",
        "The North Wind and the Sun were disputing which was the stronger, when a traveler came along "
        "wrapped in a warm cloak. They agreed that the one who first succeeded in making the traveler "
        "take his cloak off should be considered stronger than the other.",
        Voice("en-gb", rate=155),
    ),
    (
        "The Rainbow Passage",
        "When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow. The "
        "rainbow is a division of white light into many beautiful colors.",
        Voice("en-us", rate=155),
    ),
]


def _render(name: str, text: str, voice: Voice) -> dict[str, object]:
    speech = synthesize(text, voice)
    (DEMO_DIR / "assets" / f"{name}.ogg").write_bytes(encode_audio(speech.samples, speech.sample_rate, "ogg"))
    words = [
        {"index": i, "text": w.text, "start": round(w.start, 3), "end": round(w.end, 3)}
        for i, w in enumerate(speech.words)
    ]
    return {"audio": f"assets/{name}.ogg", "words": words}


def main() -> None:
    (DEMO_DIR / "assets").mkdir(parents=True, exist_ok=True)
    catalog: dict[str, object] = {
        "actors": [{"key": key, "name": name, "bio": bio} for key, (name, bio, _) in ACTORS.items()],
        "tokens": [
            {"actor": actor, "movie_title": movie, "movie_year": year, "text": text,
             **_render(f"token-{i}", text, ACTORS[actor][2])}
            for i, (actor, movie, year, text) in enumerate(TOKENS, start=1)
        ],
        "scripts": [
            {"title": title, "text": text, **_render(f"script-{i}", text, voice)}
            for i, (title, text, voice) in enumerate(SCRIPTS, start=1)
        ],
    }  # fmt: skip
    (DEMO_DIR / "catalog.json").write_text(json.dumps(catalog, indent=2) + "\n")


if __name__ == "__main__":
    main()
