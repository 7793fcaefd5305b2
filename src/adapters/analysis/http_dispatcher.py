"""The analysis servers' HTTP API, as the relay sees it (see docs/analysis-protocol.md)."""

from __future__ import annotations

import httpx
import msgspec

from application.ports.analysis import AnalysisRequest, DispatchError
from domain.analysis.jobs import RetryReason
from domain.catalog import ReferenceKind
from shared_kernel import tracing
from shared_kernel.analysis_protocol import ANALYSES_PATH, AnalysisRequestBody, AudioSourceBody, WordBody
from shared_kernel.retry_after import parse_retry_after


def request_body(request: AnalysisRequest) -> bytes:
    return msgspec.json.encode(
        AnalysisRequestBody(
            job_id=request.job_id,
            kind=request.kind.value,
            recording=AudioSourceBody(request.recording_url, request.recording_content_type),
            reference=AudioSourceBody(request.reference_url, request.reference_content_type),
            callback_url=request.callback_url,
            deadline=request.deadline,
            text=request.text,
            words=[WordBody(**word) for word in request.words],
            feature_config_version=request.feature_config_version,
        )
    )


class HttpAnalysisDispatcher:
    """POSTs analysis requests over a pooled transport; classifies every failure as retryable or not.

    The requests go to httpx's transport directly, not through an ``httpx.AsyncClient``: a dispatch
    needs none of the client's per-request work (merging base URL, cookies and default headers, auth
    and redirect handling, event hooks, its INFO log line per request), which took a tenth of the
    worker's CPU per dispatched job; timeouts, pooling and error mapping are the transport's own."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        timeout: httpx.Timeout,
        token_server_url: str,
        script_server_url: str,
        auth_token: str | None = None,
    ) -> None:
        self._transport = transport
        self._timeout = timeout.as_dict()
        self._urls = {
            kind: httpx.URL(url + ANALYSES_PATH)
            for kind, url in (
                (ReferenceKind.TOKEN, token_server_url),
                (ReferenceKind.SCRIPT, script_server_url),
            )
        }
        self._auth_token = auth_token

    async def dispatch(self, request: AnalysisRequest) -> None:
        headers = {"Idempotency-Key": str(request.job_id), "Content-Type": "application/json"}
        if self._auth_token:
            headers["Authorization"] = f"Bearer {self._auth_token}"
        tracing.inject(headers)  # the analysis server continues the dispatch's trace
        outgoing = httpx.Request(
            "POST",
            self._urls[request.kind],
            content=request_body(request),
            headers=headers,
            extensions={"timeout": self._timeout},
        )
        try:
            response = await self._transport.handle_async_request(outgoing)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.TimeoutException as error:
            raise DispatchError(
                f"timed out: {type(error).__name__}", retryable=True, cause=RetryReason.TIMED_OUT
            ) from error
        except httpx.TransportError as error:
            raise DispatchError(
                f"connection failed: {type(error).__name__}", retryable=True, cause=RetryReason.UNREACHABLE
            ) from error
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = f"analysis server answered {status}: {response.text[:200]}"
        if status in {408, 425, 429} or status >= 500:
            raise DispatchError(
                detail,
                retryable=True,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
                cause=RetryReason.BUSY if status in {429, 503} else RetryReason.SERVER_ERROR,
            )
        raise DispatchError(detail, retryable=False)
