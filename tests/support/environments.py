"""Environment variables of a production deployment that the settings accept."""

from __future__ import annotations

import base64

from entrypoints.settings import MIN_SECRET_LENGTH

PRODUCTION_ENV = {
    "APP_ENV": "production",
    "DATABASE_URL": "postgresql+asyncpg://app:pw@db.internal:5432/voice",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "SECRET_KEY": "k" * MIN_SECRET_LENGTH,
    "STORAGE_URL_SECRET": "s" * MIN_SECRET_LENGTH,
    "METRICS_TOKEN": "m" * MIN_SECRET_LENGTH,
    "ANALYSIS_WEBHOOK_SECRETS": "whsec_" + base64.b64encode(b"production-webhook-secret-32byte").decode(),
}
