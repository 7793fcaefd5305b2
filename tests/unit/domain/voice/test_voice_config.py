from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from domain.voice.config import FeatureConfig
from domain.voice.errors import IncompatibleFeaturesError


def test_equal_configs_share_a_version() -> None:
    assert FeatureConfig().version == FeatureConfig().version


# Changed alone, these would break a consistency rule (rates must divide, the FFT must hold a window).
COUPLED = {"sample_rate", "pitch_sample_rate", "window_seconds", "hop_seconds", "fft_size"}


def test_changing_any_parameter_changes_the_version() -> None:
    default = FeatureConfig()
    changed = [
        dataclasses.replace(default, **{field.name: _changed(getattr(default, field.name))})
        for field in dataclasses.fields(FeatureConfig)
        if field.name not in COUPLED
    ]

    versions = {config.version for config in changed}

    assert default.version not in versions
    assert len(versions) == len(changed)


def test_features_of_another_version_are_refused() -> None:
    with pytest.raises(IncompatibleFeaturesError) as raised:
        FeatureConfig().require_compatible(FeatureConfig(n_mfcc=20).version)

    assert raised.value.reason == "incompatible_features"


def test_features_of_the_same_version_are_accepted() -> None:
    FeatureConfig().require_compatible(FeatureConfig().version)


@pytest.mark.parametrize(
    "change",
    [
        {"n_mfcc": 50},
        {"hop_seconds": 0.05},
        {"pitch_max_hz": 5000.0},
        {"pitch_sample_rate": 7000},
        {"fft_size": 256},
    ],
)
def test_inconsistent_parameters_are_rejected(change: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"need|must"):
        FeatureConfig(**change)  # type: ignore[arg-type]


def _changed(value: object) -> Any:
    if isinstance(value, int):
        return value + 1
    assert isinstance(value, float)
    return value * 1.01
