"""The routes of one token or script, made once per kind: the item, reference audio, recordings, bookmarks.

`/tokens/{token_id}/...` and `/scripts/{script_id}/...` differ only in the kind they pass to the use
cases and in the schemas of the item, so `practice_item_controllers` builds the same controllers for
either. The handlers are annotated with `ItemOut` and `ItemBody`; each controller's signature namespace
names the kind's own schemas for them, so the OpenAPI document and validation stay per kind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import ResponseSpec
from litestar.params import Body, FromPath, JSONBody, QueryParameter
from litestar.response import Redirect

from application.analysis.resumable import ResumableUploads
from application.analysis.uploads import RecordingUploads
from application.bookmarks import Bookmarks
from application.catalog import CatalogAdministration, CatalogQueries
from application.ports.idempotency import IdempotencyReceipt, IdempotencyStore
from domain.accounts import Principal
from domain.analysis.jobs import Job
from domain.catalog import ReferenceKind
from domain.errors import AuthenticationError
from entrypoints.bootstrap import pipeline_settings
from entrypoints.http.admission import Admission
from entrypoints.http.dependencies import Injected
from entrypoints.http.idempotency import idempotent, idempotent_creation
from entrypoints.http.job_schemas import DirectUploadBody, DirectUploadOut, JobOut, UploadTarget
from entrypoints.http.multipart_schemas import MultipartUploadBody, MultipartUploadOut
from entrypoints.http.rate_limits import limit_uploads
from entrypoints.http.schemas import ReferenceAudioOut, ScriptBody, ScriptOut, TokenBody, TokenOut
from entrypoints.http.security import SIGN_IN, Caller, container_of, current_principal, signed_in
from entrypoints.http.versioning import API_V1
from entrypoints.settings import Settings

# Room for the multipart envelope (boundaries, part headers, a long file name) around a file of the
# configured maximum size: a body beyond limit + overhead is refused with 413 before it is buffered.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
IDEMPOTENCY_HEADER_DOC = (
    "Send an `Idempotency-Key` header to make retries safe: the same key and payload replay the first "
    "response, another payload under the key is 422, and a request still in flight is 409."
)
JOB_RESPONSES = {
    202: ResponseSpec(
        data_container=JobOut, description="The job, queued for analysis, or completed at once when reused"
    )
}
REUSE_DOC = (
    "A recording with the same bytes (SHA-256) as one of your completed analyses of this item, against the "
    "same reference audio, words and feature version, is not analysed again: the job is completed at once "
    "with that result and `reused_from` names the job it came from (events: queued, then completed). "
    "Send `reuse=false` for a fresh analysis."
)
Reuse = Annotated[
    bool, QueryParameter(description="false: analyse afresh even when an identical recording was analysed.")
]
UPLOAD_CHECKS_DOC = (
    "The real format is sniffed from the bytes (WAV, WebM, Ogg, MP4/M4A, MP3, FLAC, AMR/3GP, CAF) and "
    "decoded before anything is stored: 413 too large, 415 not audio, 422 undecodable, too long or too "
    "short. A rejected upload leaves nothing behind."
)


@dataclass
class AudioForm:
    """Multipart form with the recording in the field ``file``."""

    file: UploadFile


AudioUpload = Annotated[AudioForm, Body(media_type=RequestEncodingType.MULTI_PART)]


FRESH_ANALYSIS_SUFFIX = b"\0reuse=false"


def reuse_payload(payload: bytes, reuse: bool) -> bytes:
    """An idempotency payload that differs when a fresh analysis is asked for."""
    return payload if reuse else payload + FRESH_ANALYSIS_SUFFIX


def upload_digests(recording: bytes, reuse: bool) -> tuple[str, bytes]:
    """The recording's SHA-256 (hex), which the use case needs, and the idempotency payload's
    (``reuse_payload``'s digest), from one pass over the recording: hashing it twice, with a copy of it
    for the suffix, cost an upload about 0.3 ms of CPU."""
    hashed = hashlib.sha256(recording)
    recording_sha256 = hashed.hexdigest()
    if not reuse:
        hashed.update(FRESH_ANALYSIS_SUFFIX)
    return recording_sha256, hashed.digest()


def accepted(job_out: JobOut) -> tuple[int, JobOut, dict[str, str]]:
    return 202, job_out, {"Location": job_out.links.self}


def job_accepted(job: Job) -> tuple[int, JobOut, dict[str, str]]:
    return accepted(JobOut.of(job))


Queries = Injected[CatalogQueries]
Administration = Injected[CatalogAdministration]
Uploads = Injected[RecordingUploads]
Resumable = Injected[ResumableUploads]
Idempotency = Injected[IdempotencyStore]
Saved = Injected[Bookmarks]
ItemId = NamedDependency[UUID]  # the id from the kind's own path parameter


def _token_id(token_id: FromPath[UUID]) -> UUID:
    return token_id


def _script_id(script_id: FromPath[UUID]) -> UUID:
    return script_id


@dataclass(frozen=True, slots=True)
class RecordingIntake:
    """What the upload route needs, as its one dependency (``recording_intake``).

    Litestar resolves two or more dependencies that need nothing of each other in an anyio task group on
    every request: four trivial ones cost a request 0.1-0.2 ms more than one (measured on a bare app),
    a few percent of an upload's CPU on its busiest route. A dependency that needs another is resolved
    after it, without a task group; so this one takes ``item_id`` and reads the rest itself."""

    principal: Principal
    item_id: UUID
    uploads: RecordingUploads
    idempotency: IdempotencyStore


def recording_intake(request: Request[Any, Any, Any], item_id: ItemId) -> RecordingIntake:
    container = container_of(request)
    return RecordingIntake(current_principal(request), item_id, container.uploads, container.idempotency)


ItemOut = TokenOut | ScriptOut
ItemBody = TokenBody | ScriptBody


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The largest request bodies a kind's audio routes read (the configured file limits + overhead)."""

    reference_audio: int
    recording: int

    @classmethod
    def of(cls, settings: Settings, kind: ReferenceKind) -> BodyLimits:
        recording = pipeline_settings(settings).limits(kind).max_bytes
        return cls(
            settings.reference_max_bytes + MULTIPART_OVERHEAD_BYTES, recording + MULTIPART_OVERHEAD_BYTES
        )


async def admin_caller(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: 401 without a valid token, 403 for a user; runs before the body is read, so a refused
    caller's upload is never buffered. A coroutine, as every guard here: Litestar runs a plain function
    guard in the thread pool on each request (tests/unit/entrypoints/test_guards_inline.py)."""
    principal = signed_in(connection)
    if principal is None:
        raise AuthenticationError(SIGN_IN)
    principal.require_admin()


async def signed_in_caller(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: 401 without a valid token, before the body is read (a coroutine: see ``admin_caller``)."""
    if signed_in(connection) is None:
        raise AuthenticationError(SIGN_IN)


async def signed_in_uploader(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Guard of the routes that create analysis jobs: ``signed_in_caller`` (401), then ``limit_uploads``
    (429 with Retry-After), before the body is read. One guard rather than the two in a row: Litestar
    copies the route handler for each guard on each request, and these are the busiest routes."""
    await signed_in_caller(connection, handler)
    await limit_uploads(connection, handler)


@dataclass(frozen=True, slots=True)
class KindRoutes:
    """One kind of practice item in the API: its path parameter, schemas, and how the docs name it."""

    kind: ReferenceKind
    id_parameter: Callable[..., UUID]  # reads the path parameter it is named after (_token_id: token_id)
    out: type[TokenOut] | type[ScriptOut]
    body: type[TokenBody] | type[ScriptBody]
    recording: str  # what a user uploads for analysis


def practice_item_controllers(
    routes: KindRoutes, limits: BodyLimits, admission: Admission
) -> list[type[Controller]]:
    """The shared controllers of one kind, under /tokens/{token_id} or /scripts/{script_id}.

    The path parameter keeps the name it always had; a dependency hands it to the handlers as item_id.
    """
    kind = routes.kind
    item = f"a {kind.value}"
    parameter = routes.id_parameter.__name__.removeprefix("_")
    base = f"/{kind.value}s/{{{parameter}:uuid}}"
    item_id_dependency = {"item_id": Provide(routes.id_parameter, sync_to_thread=False)}

    class ItemController(Controller):
        path = base
        tags = ["catalog"]
        dependencies = item_id_dependency
        signature_namespace = {"ItemOut": routes.out, "ItemBody": routes.body}

        @get("/", description=f"One {kind.value} with its words and a link to its reference audio.")
        async def get_item(self, catalog_queries: Queries, item_id: ItemId) -> ItemOut:
            return routes.out.of(await catalog_queries.get_item(kind, item_id))

        @put(
            "/",
            description=f"Replace {item}'s fields and words (admin only). Without words, a {kind.value} with "
            "reference audio gets every word of its text timed on it by forced alignment.",
        )
        async def update_item(
            self, catalog_admin: Administration, principal: Caller, item_id: ItemId, data: JSONBody[ItemBody]
        ) -> ItemOut:
            item = await catalog_admin.update_item(principal, item_id, data.to_input())
            return routes.out.of(item)

        @delete(
            "/", status_code=204,
            description=f"Delete {item} and its reference audio (admin only).",
        )  # fmt: skip
        async def delete_item(
            self, catalog_admin: Administration, principal: Caller, item_id: ItemId
        ) -> None:
            await catalog_admin.delete_item(principal, kind, item_id)

        @get(
            "/reference-audio",
            status_code=307,
            description=f"Redirect to a short-lived URL of the {kind.value}'s reference recording.",
        )
        async def get_reference_audio(self, catalog_queries: Queries, item_id: ItemId) -> Redirect:
            url = await catalog_queries.reference_audio_url(kind, item_id)
            return Redirect(url.url, status_code=307)

        @put(
            "/reference-audio",
            request_max_body_size=limits.reference_audio,
            guards=[admin_caller],
            description=(
                f"Upload the {kind.value}'s reference recording (multipart field ``file``; admin only). "
                "Word timings an admin gave are kept; otherwise every word of the text is timed on the "
                "recording by forced alignment (422 when it holds no speech)."
            ),
        )
        async def put_reference_audio(
            self, catalog_admin: Administration, principal: Caller, item_id: ItemId, data: AudioUpload
        ) -> ReferenceAudioOut:
            audio = await catalog_admin.upload_reference_audio(
                principal, kind, item_id, await data.file.read()
            )
            return ReferenceAudioOut(
                audio.content_type,
                audio.duration_seconds,
                f"{API_V1}/{kind.value}s/{item_id}/reference-audio",
            )

    class RecordingController(Controller):
        path = base
        tags = ["analysis"]
        dependencies = {**item_id_dependency, "intake": Provide(recording_intake, sync_to_thread=False)}
        # Before the body is read: a signed-in caller (401), and at most UPLOAD_RATE_LIMIT new jobs per
        # user (429 with Retry-After).
        guards = [signed_in_uploader]

        @post(
            "/upload-audio",
            status_code=202,
            request_max_body_size=limits.recording,
            # Before the guards and the body: past the process's UPLOAD_MAX_IN_FLIGHT, a short wait, then 503.
            middleware=[admission.middleware],
            responses=JOB_RESPONSES,
            summary=f"Upload {routes.recording} (multipart field ``file``); 202 with the queued job.",
            description=f"{UPLOAD_CHECKS_DOC}\n\n{REUSE_DOC}\n\n{IDEMPOTENCY_HEADER_DOC}",
        )
        async def upload_recording(
            self, request: Request[Any, Any, Any], intake: Injected[RecordingIntake], data: AudioUpload,
            reuse: Reuse = True,
        ) -> Response[bytes]:  # fmt: skip
            recording = await data.file.read()
            recording_sha256, payload_sha256 = upload_digests(recording, reuse)

            async def create(receipt: IdempotencyReceipt[Job] | None) -> Job:
                # The key's response is stored in the job's own transaction (one round trip less).
                return await intake.uploads.upload(
                    intake.principal, kind, intake.item_id, recording, reuse=reuse, receipt=receipt,
                    recording_sha256=recording_sha256,
                )  # fmt: skip

            return await idempotent_creation(
                request, intake.idempotency, intake.principal, payload_sha256, create, job_accepted,
                claim_in_create=True,
            )  # fmt: skip

        @post(
            "/uploads",
            status_code=201,
            summary=f"Start a direct upload of {routes.recording}.",
            description=(
                "A job awaiting its recording and a presigned PUT URL with its expiry. PUT the file to "
                f"``upload.url`` with ``upload.headers``, then POST ``submit``.\n\n{IDEMPOTENCY_HEADER_DOC}"
            ),
        )
        async def start_direct_upload(
            self, request: Request[Any, Any, Any], uploads: Uploads, idempotency: Idempotency, principal: Caller,
            item_id: ItemId, data: JSONBody[DirectUploadBody],
        ) -> Response[bytes]:  # fmt: skip
            async def produce() -> tuple[int, DirectUploadOut, dict[str, str]]:
                started = await uploads.start_direct_upload(
                    principal, kind, item_id, data.content_type, data.size_bytes
                )
                job_out = JobOut.of(started.job)
                upload = UploadTarget(
                    started.upload.url,
                    started.upload.method,
                    started.upload.headers,
                    started.upload.expires_at,
                )
                out = DirectUploadOut(
                    job=job_out, upload=upload, submit=f"{API_V1}/jobs/{started.job.id}/submit"
                )
                return 201, out, {"Location": job_out.links.self}

            payload = hashlib.sha256(f"{data.content_type}\n{data.size_bytes}".encode()).digest()
            return await idempotent(request, idempotency, principal, payload, produce)

        @post(
            "/multipart-uploads",
            status_code=201,
            summary=f"Start a resumable upload of {routes.recording} in parts.",
            description=(
                "For large recordings on unreliable networks. A job awaiting its recording and a "
                "presigned PUT URL per part (each signed for its exact size; parts in any order, any "
                "part retried). After a lost connection GET ``links.self``: the parts that arrived and "
                "fresh URLs for the rest. POST ``links.complete`` once all arrived, then "
                "``links.submit``. Not completed and submitted in time, the job fails "
                f"``upload_expired`` and the parts are deleted.\n\n{IDEMPOTENCY_HEADER_DOC}"
            ),
        )
        async def start_multipart_upload(
            self, request: Request[Any, Any, Any], resumable_uploads: Resumable, idempotency: Idempotency,
            principal: Caller, item_id: ItemId, data: JSONBody[MultipartUploadBody],
        ) -> Response[bytes]:  # fmt: skip
            async def produce() -> tuple[int, MultipartUploadOut, dict[str, str]]:
                started = await resumable_uploads.start(
                    principal, kind, item_id, data.content_type, data.size_bytes, data.part_size_bytes
                )
                out = MultipartUploadOut.of(started)
                return 201, out, {"Location": out.links.self}

            declared = f"{data.content_type}\n{data.size_bytes}\n{data.part_size_bytes}"
            return await idempotent(
                request, idempotency, principal, hashlib.sha256(declared.encode()).digest(), produce
            )

    class BookmarkController(Controller):
        path = base
        tags = ["bookmarks"]
        dependencies = item_id_dependency

        @put(
            "/bookmark",
            status_code=201,
            description=f"Bookmark {item} (201 when new, 204 when it was bookmarked already).",
        )
        async def add_bookmark(self, bookmarks: Saved, principal: Caller, item_id: ItemId) -> Response[None]:
            created = await bookmarks.add(principal, kind, item_id)
            return Response(None, status_code=201 if created else 204)

        @delete(
            "/bookmark",
            status_code=204,
            description=f"Remove the bookmark of {item} (404 when there was none).",
        )
        async def remove_bookmark(self, bookmarks: Saved, principal: Caller, item_id: ItemId) -> None:
            await bookmarks.remove(principal, kind, item_id)

    return [ItemController, RecordingController, BookmarkController]


TOKEN_ROUTES = KindRoutes(
    ReferenceKind.TOKEN, _token_id, TokenOut, TokenBody, "a recording of a token's line"
)
SCRIPT_ROUTES = KindRoutes(ReferenceKind.SCRIPT, _script_id, ScriptOut, ScriptBody, "a reading of a script")


def practice_item_routes(settings: Settings) -> list[type[Controller]]:
    """Both kinds' controllers, their audio routes limited to the configured sizes, their uploads
    sharing one admission limit (a process's uploads of either kind count together)."""
    admission = Admission(settings.upload_max_in_flight, settings.upload_admission_wait_seconds)
    return [
        controller
        for routes in (TOKEN_ROUTES, SCRIPT_ROUTES)
        for controller in practice_item_controllers(routes, BodyLimits.of(settings, routes.kind), admission)
    ]
