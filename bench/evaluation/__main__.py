"""`make eval`: fetches the human recordings, runs every experiment, prints the report and writes it as JSON.

Run from the repository root: ``uv run python -m bench.evaluation [--quick]``. The recordings are cached
under var/evaluation/cache; the report goes to var/evaluation/report.json. Figures, no assertions.
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse
import itertools
import json
import random
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tests.support.speech import Voice, synthesize

from bench.evaluation import calibration, experiments, transforms
from bench.evaluation.experiments import Engine, Words
from bench.evaluation.sources import LICENCES, SAMPLE_RATE, Clip, asterisk_clips, parselmouth_digits
from bench.evaluation.targets import render
from bench.voice_bench import measure_in_child
from domain.voice import ComparisonSettings, FeatureConfig, WordTiming

VAR = Path("var/evaluation")
REFERENCE_VOICE = Voice("en-us")


def forced_words(clip: Clip) -> Words:
    """The clip's word times: espeak-ng says the text (every word timed), and the comparison carries
    those times onto the human recording."""
    speech = synthesize(clip.text, REFERENCE_VOICE)
    timings = [WordTiming(word.text, word.start, word.end) for word in speech.words]
    result = experiments.compare_over_band(
        clip.samples,
        speech.samples.astype(np.float64),
        timings,
        clip.bandwidth_hz,
        FeatureConfig(),
        ComparisonSettings(),
    )
    return [
        WordTiming(word.text, word.user_start, max(word.user_start, word.user_end)) for word in result.words
    ]


def synthetic(clip: Clip) -> tuple[np.ndarray, Words]:
    speech = synthesize(clip.text, REFERENCE_VOICE)
    return speech.samples.astype(np.float64), [WordTiming(w.text, w.start, w.end) for w in speech.words]


def speed(aligned: list[tuple[Clip, Words]], folder: Path) -> dict[str, dict[str, float]]:
    """CPU and memory of one comparison on human speech (see bench.voice_bench): the clips joined into
    a 5 s line and a 60 s script (cut at that length, with the words that end before the cut),
    compared with themselves spoken 10 % faster."""
    figures = {}
    for name, seconds, runs in (("5 s clip", 5.0, 20), ("60 s script", 60.0, 5)):
        pieces, words, elapsed = [], [], 0.0
        for clip, timings in itertools.cycle(aligned):
            if elapsed >= seconds:
                break
            pieces.append(clip.samples)
            words += [[w.text, w.start + elapsed, w.end + elapsed] for w in timings]
            elapsed += clip.duration
        reference = np.concatenate(pieces)[: round(seconds * SAMPLE_RATE)]
        words = [word for word in words if word[2] <= seconds]
        path = folder / f"speed-{seconds:.0f}.npz"
        user = transforms.tempo(reference, 1.1).samples
        np.savez(path, reference=reference, user=user, words=np.array(json.dumps(words)))
        figures[name] = {key: round(value, 1) for key, value in measure_in_child(path, runs).items()}
    return figures


def run(quick: bool) -> dict[str, object]:
    started = time.monotonic()
    cache = VAR / "cache"
    allison = asterisk_clips(cache)
    digits = parselmouth_digits(cache)
    allison_digits = [
        clip for clip in allison if clip.name in {f"asterisk:digits/{digit}" for digit in range(1, 6)}
    ]
    engine = Engine(ComparisonSettings())
    rng = random.Random(13)
    takes = experiments.separate_takes(allison)
    if quick:
        takes = takes[:8]
    take_clips = [clip for group in takes for clip in group]
    print(f"{len(allison)} Asterisk clips, {len(takes)} texts recorded as separate takes", flush=True)

    same_speaker = experiments.separation(
        engine, [(clip, clip.samples, forced_words(clip)) for clip in take_clips], allison, 3, seed=1
    )
    speakers = [*digits, *allison_digits]
    across = experiments.separation(
        engine, [(clip, clip.samples, forced_words(clip)) for clip in speakers], speakers, 4, seed=2
    )
    timed = [
        clip
        for clip in allison
        if 4 <= len(experiments.words_of(clip.text)) <= 14 and 1.5 <= clip.duration <= 6.0
    ]
    chosen = sorted(rng.sample(timed, 12 if quick else 40), key=lambda clip: clip.name)
    synthetic_refs = []
    for clip in chosen[: 10 if quick else 30]:
        audio, words = synthetic(clip)
        synthetic_refs.append((clip, audio, words))
    versus_synthetic = experiments.separation(engine, synthetic_refs, allison, 3, seed=3, include_itself=True)
    labelled = {
        "same speaker, separate takes": calibration.Labelled(same_speaker.scores, same_speaker.same_text),
        "different speakers": calibration.Labelled(across.scores, across.same_text),
    }
    fitted = calibration.fit(labelled, engine.settings.scoring)
    in_use = calibration.figures_of(labelled, engine.settings.scoring)
    print(f"separation done in {time.monotonic() - started:.0f} s", flush=True)

    aligned = [(clip, forced_words(clip)) for clip in chosen]
    noise_voices = [clip.samples for clip in rng.sample(allison, 6)]
    all_conditions = experiments.conditions(noise_voices)
    conditions = experiments.under_conditions(engine, aligned, all_conditions)
    print(f"conditions done in {time.monotonic() - started:.0f} s", flush=True)
    word_events = experiments.omissions_and_insertions(engine, aligned, digits, seed=4)
    pairs = [
        (reference, forced_words(reference), user) for reference, user in experiments.pairs_within(takes)
    ]
    degradation = experiments.degradation_on_takes(engine, pairs, all_conditions)
    print(f"degradation done in {time.monotonic() - started:.0f} s", flush=True)
    phone_pairs = rng.sample(pairs, min(len(pairs), 8 if quick else 40))
    phones = experiments.phone_level(
        engine, [(ref, words, user, forced_words(user)) for ref, words, user in phone_pairs], digits, seed=5
    )
    timings = speed(aligned, VAR)
    config = FeatureConfig()
    return {
        "engine": {
            "feature_version": config.version,
            "feature_config": asdict(config),
            "comparison_settings": asdict(engine.settings),
        },
        "sources": LICENCES,
        "separation": {
            "same speaker, separate takes": same_speaker.summary(),
            "different speakers (digits one to five, three speakers)": across.summary(),
            "synthetic (espeak-ng) reference, human user": versus_synthetic.summary(),
        },
        "conditions": {
            name: {
                "boundary_ms": {"median": round(f.boundary_ms.median, 1), "p90": round(f.boundary_ms.p90, 1)},
                "overall_mean": round(f.overall_mean, 1),
                "overall_min": round(f.overall_min, 1),
                "overall_delta_from_clean": round(f.overall_delta, 1),
                "words_ok": round(f.words_ok, 3),
                "false_omissions": round(f.false_omissions, 3),
            }
            for name, f in conditions.items()
        },
        "clips_under_conditions": len(aligned),
        "words_under_conditions": sum(len(words) for _, words in aligned),
        "omitted_and_inserted_words": word_events,
        "degradation_on_separate_takes": degradation,
        "phone_level (pocketsphinx beside DTW)": phones,
        "speed": timings,
        "calibration": {
            "fitted": {"feature_version": config.version, **fitted},
            "in_use": {"figures": in_use},
        },
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a fraction of the material, for a smoke run")
    options = parser.parse_args()
    report = run(options.quick)
    VAR.mkdir(parents=True, exist_ok=True)
    (VAR / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    fitted = report["calibration"]["fitted"]  # type: ignore[index]
    (VAR / "calibration.json").write_text(json.dumps(fitted, indent=2) + "\n")
    print(render(report))
    print(f"\nwritten to {VAR / 'report.json'} in {report['seconds']} s")


if __name__ == "__main__":
    main()
