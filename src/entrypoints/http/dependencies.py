"""The dependencies handlers declare by name: ``principal`` (the signed-in caller, 401 otherwise) and
each use case (``registration``, ``jobs``, ...) under the container's name for it, never the container."""

from __future__ import annotations

from typing import Any, TypeAlias, TypeVar

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.params import SkipValidation

from entrypoints.http.security import container_of, current_principal

T = TypeVar("T")
# A handler parameter filled by the provider of the same name; our own objects, so not validated
# (a port is a Protocol, which isinstance cannot check).
Injected: TypeAlias = NamedDependency[SkipValidation[T]]


def _from_container(attribute: str) -> Provide:
    def provide(request: Request[Any, Any, Any]) -> Any:
        return getattr(container_of(request), attribute)

    return Provide(provide, sync_to_thread=False)


# Dependency name -> the container's attribute: every use case (and the little else handlers need).
_PROVIDED = {
    "registration": "registration",
    "authentication": "authentication",
    "profiles": "profiles",
    "catalog_queries": "catalog_queries",
    "catalog_admin": "catalog_admin",
    "bookmarks": "bookmarks",
    "readiness": "readiness",
    "uploads": "uploads",
    "resumable_uploads": "resumable_uploads",
    "jobs": "jobs",
    "stream_tickets": "stream_tickets",
    "webhooks": "webhooks",
    "webhook_verifier": "webhook_verifier",
    "pipeline_statistics": "pipeline_statistics",
    "idempotency": "idempotency",
    "saq_queue": "queue",
    "settings": "settings",
    "pipeline": "pipeline",
}
DEPENDENCIES = {
    "principal": Provide(current_principal, sync_to_thread=False),
    **{name: _from_container(attribute) for name, attribute in _PROVIDED.items()},
}
