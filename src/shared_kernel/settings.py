"""Configuration facts both programs share: the environments, the refusal, the development webhook secret."""

from __future__ import annotations

# A fixed, well-known development secret: production refuses it on both sides of the webhooks.
DEV_WEBHOOK_SECRET = "whsec_ZGV2LW9ubHktd2ViaG9vay1zZWNyZXQtMDEyMzQ1Njc4OQ=="
MIN_SECRET_LENGTH = 32
ENVIRONMENTS = ("development", "test", "production")


class ConfigurationError(Exception):
    """The environment describes a configuration the program must not run with."""
