"""The analysis servers' HTTP API, as the relay sees it (see docs/analysis-protocol.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from application.ports.analysis import AnalysisRequest, DispatchError
from domain.catalog import ReferenceKind

ANALYSES_PATH = "/v1/analyses"


def parse_retry_after(value: str | None, now: datetime | None = None) -> timedelta | None:
    """Retry-After is either delay-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), when - (now or datetime.now(UTC)))


def request_body(request: AnalysisRequest) -> dict[str, object]:
    return {
        "job_id": str(request.job_id),
        "kind": request.kind.value,
        "recording": {"url": request.recording_url, "content_type": request.recording_content_type},
        "reference": {"url": request.reference_url, "content_type": request.reference_content_type},
        "callback_url": request.callback_url,
        "deadline": request.deadline.isoformat(),
        "text": request.text,
        "words": request.words,
        "feature_config_version": request.feature_config_version,
    }


class HttpAnalysisDispatcher:
    """POSTs analysis requests with a pooled client; classifies every failure as retryable or not."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        token_server_url: str,
        script_server_url: str,
        auth_token: str | None = None,
    ) -> None:
        self._client = client
        self._urls = {ReferenceKind.TOKEN: token_server_url, ReferenceKind.SCRIPT: script_server_url}
        self._auth_token = auth_token

    async def dispatch(self, request: AnalysisRequest) -> None:
        headers = {"Idempotency-Key": str(request.job_id)}
        if self._auth_token:
            headers["Authorization"] = f"Bearer {self._auth_token}"
        url = self._urls[request.kind] + ANALYSES_PATH
        try:
            response = await self._client.post(url, json=request_body(request), headers=headers)
        except httpx.TimeoutException as error:
            raise DispatchError(f"timed out: {type(error).__name__}", retryable=True) from error
        except httpx.TransportError as error:
            raise DispatchError(f"connection failed: {type(error).__name__}", retryable=True) from error
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = f"analysis server answered {status}: {response.text[:200]}"
        if status in {408, 425, 429} or status >= 500:
            raise DispatchError(
                detail, retryable=True, retry_after=parse_retry_after(response.headers.get("retry-after"))
            )
        raise DispatchError(detail, retryable=False)
