"""The issue's targets (issue 13, part 3) checked against a report, and the report as text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SAME_SPEAKER = "same speaker, separate takes"
ACROSS_SPEAKERS = "different speakers (digits one to five, three speakers)"
TIMING_CONDITIONS = (
    "tempo 0.8",
    "tempo 0.9",
    "tempo 1.1",
    "tempo 1.25",
    "padding 0.6 s + 0.8 s",
    "tempo 1.25 + padding",
)
ROBUSTNESS_CONDITIONS = ("white noise 20 dB", "babble noise 20 dB", "telephone band")


@dataclass(frozen=True, slots=True)
class Verdict:
    target: str
    figure: str
    met: bool


def verdicts(report: Mapping[str, Any]) -> list[Verdict]:
    """One verdict per target the report has figures for."""
    separation, conditions = report["separation"], report["conditions"]
    found = []
    for name, least in ((SAME_SPEAKER, 0.97), (ACROSS_SPEAKERS, 0.9)):
        figures = separation[name]
        found.append(Verdict(f"{name}: AUC >= {least}", f"{figures['auc']:.3f}", figures["auc"] >= least))
        found.append(
            Verdict(f"{name}: median gap >= 25", f"{figures['median_gap']:.1f}", figures["median_gap"] >= 25)
        )
    worst = max(conditions[name]["boundary_ms"]["p90"] for name in TIMING_CONDITIONS)
    found.append(
        Verdict("word boundary p90 <= 60 ms under tempo 0.8-1.25 and padding", f"{worst:.0f} ms", worst <= 60)
    )
    events = report["omitted_and_inserted_words"]
    recall, false = events["omission_recall"], events["false_omissions_per_word"]
    found.append(Verdict("omitted words: recall >= 0.9", f"{recall:.2f}", recall >= 0.9))
    found.append(Verdict("false omissions <= 5 % of words", f"{false:.1%}", false <= 0.05))
    takes = report["degradation_on_separate_takes"]
    for name in ROBUSTNESS_CONDITIONS:
        identical, other_take = conditions[name]["overall_delta_from_clean"], takes[name]["median_delta"]
        found.append(
            Verdict(
                f"{name}: overall within 10 points of clean",
                f"{identical:+.1f} (own recording), {other_take:+.1f} (another take)",
                abs(identical) <= 10 and abs(other_take) <= 10,
            )
        )
    clean = conditions["clean"]
    found.append(
        Verdict(
            "identical recording >= 95 with every word ok",
            f"lowest {clean['overall_min']:.1f}, words ok {clean['words_ok']:.1%}",
            clean["overall_min"] >= 95 and clean["words_ok"] == 1.0,
        )
    )
    for case, budget in report.get("speed", {}).items():
        cpu = budget["cpu_ms"]
        limit = 60 if case.startswith("5 s") else 1500
        found.append(Verdict(f"{case}: CPU <= {limit} ms", f"{cpu:.0f} ms", cpu <= limit))
    return found


def render(report: Mapping[str, Any]) -> str:
    engine = report["engine"]
    lines = [
        f"voice comparison {engine['feature_version']}",
        "",
        "Separation (overall score, same text vs different text):",
    ]
    for name, figures in report["separation"].items():
        lines.append(
            f"  {name}: AUC {figures['auc']:.3f}, median gap {figures['median_gap']:.1f} "
            f"(same {figures['median_same']:.1f}, different {figures['median_different']:.1f}; "
            f"{figures['pairs_same']} + {figures['pairs_different']} pairs)"
        )
    lines += ["", "Under each alteration (own recording as reference):",
              f"  {'condition':<24} {'boundary median/p90 ms':>22} {'overall':>8} {'delta':>6} {'words ok':>9}"]  # fmt: skip
    for name, figures in report["conditions"].items():
        boundary = figures["boundary_ms"]
        lines.append(
            f"  {name:<24} {boundary['median']:>10.0f} / {boundary['p90']:<9.0f} {figures['overall_mean']:>8.1f} "
            f"{figures['overall_delta_from_clean']:>+6.1f} {figures['words_ok']:>9.1%}"
        )
    lines += ["", "Overall score moved by each alteration of another take (median):"]
    for name, figures in report["degradation_on_separate_takes"].items():
        if name != "clean_median":
            lines.append(
                f"  {name:<24} {figures['median_delta']:>+6.1f} (worst {figures['worst_delta']:+.1f})"
            )
    events = report["omitted_and_inserted_words"]
    lines += [
        "",
        f"Omitted word: recall {events['omission_recall']:.2f}, false omissions "
        f"{events['false_omissions_per_word']:.1%} of other words ({events['omission_trials']} trials)",
        f"Inserted word: false omissions {events['false_omissions_per_word_with_an_inserted_word']:.1%}; "
        f"{events['insertion_detection']}",
    ]
    phones = report.get("phone_level (pocketsphinx beside DTW)")
    if phones:
        lines += ["", "Phone level: pocketsphinx word and phone alignment with GOP, beside DTW:"]
        lines += [f"  {name}: {json.dumps(value)}" for name, value in phones.items()]
    for case, figures in report.get("speed", {}).items():
        lines.append(
            f"Speed, {case}: {figures['cpu_ms']:.0f} ms CPU, peak {figures['peak_mb']:.0f} MB resident"
        )
    fit = report["calibration"]
    lines += [
        "",
        f"Calibration fitted on these pairs: {json.dumps(fit['fitted'])}",
        f"  the calibration in use (bench/evaluation/calibration.json) gives {json.dumps(fit['in_use']['figures'])}",
    ]
    lines += ["", "Targets:"]
    lines += [f"  [{'met' if v.met else 'MISSED'}] {v.target}: {v.figure}" for v in verdicts(report)]
    lines += ["", "Sources:"] + [f"  {source}: {licence}" for source, licence in report["sources"].items()]
    return "\n".join(lines)
