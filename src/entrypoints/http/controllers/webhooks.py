"""Webhooks from the analysis servers: Standard Webhooks signatures, applied once per webhook-id."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Controller, Request, post

from application.analysis.webhooks import AnalysisWebhooks, WebhookDelivery
from entrypoints.http.dependencies import Injected
from entrypoints.http.metrics import Metrics
from entrypoints.http.problems import ProblemError
from entrypoints.http.webhook_schemas import decode_webhook
from shared_kernel.webhooks import MalformedWebhook, WebhookRejected, WebhookVerifier

MAX_WEBHOOK_BYTES = 4 * 1024 * 1024
logger = structlog.get_logger(__name__)


class AnalysisWebhookController(Controller):
    tags = ["webhooks"]

    @post("/webhooks/analysis", status_code=200, request_max_body_size=MAX_WEBHOOK_BYTES)
    async def receive(
        self,
        request: Request[Any, Any, Any],
        webhook_verifier: Injected[WebhookVerifier],
        webhooks: Injected[AnalysisWebhooks],
        metrics: Metrics,
    ) -> dict[str, str]:
        """Receive an analysis server's event (Standard Webhooks: webhook-id, -timestamp, -signature).

        Missing or malformed headers are 400; a bad signature or a timestamp more than five minutes
        off is 401; nothing is written either way. A repeated webhook-id is acknowledged and ignored,
        and so is any event for a job that already finished.
        """
        body = await request.body()
        try:
            verified = webhook_verifier.verify(body, request.headers)
        except MalformedWebhook as error:
            metrics.webhook_rejected("malformed")
            raise ProblemError(400, "webhook-malformed", str(error)) from error
        except WebhookRejected as error:
            metrics.webhook_rejected("signature")
            logger.warning("webhook rejected", reason=type(error).__name__)
            raise ProblemError(401, "webhook-signature", str(error)) from error
        try:
            event_type, job_id, event = decode_webhook(body)
        except ValueError as error:
            metrics.webhook_rejected("payload")
            raise ProblemError(400, "webhook-payload", str(error)) from error
        outcome = await webhooks.receive(WebhookDelivery(verified.id, job_id, event_type, event))
        metrics.webhook_outcome(outcome)
        return {"status": outcome.value}
