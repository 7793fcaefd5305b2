"""The analysis servers' HTTP API, as the relay sees it (see docs/analysis-protocol.md)."""

from __future__ import annotations

import ssl

import aiohttp
import certifi
import msgspec

from application.ports.analysis import AnalysisRequest, DispatchError
from domain.analysis.jobs import RetryReason
from domain.catalog import ReferenceKind
from shared_kernel import tracing
from shared_kernel.analysis_protocol import ANALYSES_PATH, AnalysisRequestBody, AudioSourceBody, WordBody
from shared_kernel.retry_after import parse_retry_after

# httpx's keep-alive expiry, which the dispatcher had before: an idle connection is dropped after this.
KEEPALIVE_SECONDS = 5.0


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


def verified_tls() -> ssl.SSLContext:
    """Certificates checked against certifi's bundle (what httpx's transport trusted) and the system's
    store (or the files OpenSSL's ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` name)."""
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=certifi.where())
    return context


def analysis_session(
    *,
    timeout_seconds: float,
    connect_timeout_seconds: float = 3.0,
    max_connections: int = 100,
    tls: ssl.SSLContext | None = None,
) -> aiohttp.ClientSession:
    """The dispatcher's pool: at most ``max_connections``, kept alive while in use, verified TLS.

    Timeouts as httpx's were: ``timeout_seconds`` for a free connection from the pool and between bytes
    of the answer (from the request's last byte on), ``connect_timeout_seconds`` to open a connection
    (TLS handshake included). aiohttp has no write timeout; the request, a few KiB, goes to the socket's
    buffer at once, and the relay's dispatch budget bounds the whole exchange. No cookie is kept and no
    environment proxy used. Create it on the event loop that dispatches; ``close`` it on shutdown."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=max_connections,
            keepalive_timeout=KEEPALIVE_SECONDS,
            ssl=tls or verified_tls(),
        ),
        timeout=aiohttp.ClientTimeout(
            total=None,
            connect=timeout_seconds,
            sock_connect=connect_timeout_seconds,
            sock_read=timeout_seconds,
        ),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )


class HttpAnalysisDispatcher:
    """POSTs analysis requests over a pooled aiohttp session; classifies every failure as retryable or not.

    aiohttp rather than httpx: its C parser and keep-alive pool take a third of httpx's CPU per request
    (httpcore's pool bookkeeping and readability poll on every reuse, anyio's stream layer), which was
    half of the worker's CPU per dispatched job (docs/performance.md, "Worker relay"). Redirects are not
    followed: a 3xx is a permanent failure, as any other answer outside 2xx and the retryable ones."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token_server_url: str,
        script_server_url: str,
        auth_token: str | None = None,
    ) -> None:
        self._session = session
        self._urls = {
            ReferenceKind.TOKEN: token_server_url + ANALYSES_PATH,
            ReferenceKind.SCRIPT: script_server_url + ANALYSES_PATH,
        }
        self._auth_token = auth_token

    async def dispatch(self, request: AnalysisRequest) -> None:
        headers = {"Idempotency-Key": str(request.job_id), "Content-Type": "application/json"}
        if self._auth_token:
            headers["Authorization"] = f"Bearer {self._auth_token}"
        tracing.inject(headers)  # the analysis server continues the dispatch's trace
        try:
            status, body, retry_after = await self._post(
                self._urls[request.kind], request_body(request), headers
            )
        except TimeoutError as error:  # aiohttp's timeouts (connect, pool, read) are TimeoutErrors
            raise DispatchError(
                f"timed out: {type(error).__name__}", retryable=True, cause=RetryReason.TIMED_OUT
            ) from error
        except aiohttp.ClientError as error:
            raise DispatchError(
                f"connection failed: {type(error).__name__}", retryable=True, cause=RetryReason.UNREACHABLE
            ) from error
        if 200 <= status < 300:
            return
        detail = f"analysis server answered {status}: {body[:200].decode(errors='replace')}"
        if status in {408, 425, 429} or status >= 500:
            raise DispatchError(
                detail,
                retryable=True,
                retry_after=parse_retry_after(retry_after),
                cause=RetryReason.BUSY if status in {429, 503} else RetryReason.SERVER_ERROR,
            )
        raise DispatchError(detail, retryable=False)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str | None]:
        """One exchange; sent once more on a new connection when the server closed the pooled one as it
        was reused (before the loop saw it close: a restarted server, an expired keep-alive). The
        Idempotency-Key makes the second a duplicate the server ignores, at worst."""
        try:
            return await self._exchange(url, body, headers)
        except aiohttp.ClientConnectorError:
            raise  # no connection was made: nothing stale to retry on
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            return await self._exchange(url, body, headers)

    async def _exchange(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes, str | None]:
        async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as response:
            return response.status, await response.read(), response.headers.get("Retry-After")
