"""Routers that are mounted where they are built, once: Litestar's defensive copy of them is skipped.

Litestar deep-copies every ``Router`` it registers, so that one router object may be mounted in several
places without the mounts sharing state. Every router of this app is built by a function for its one
mount (the versioned and the unversioned API get a fresh set each), so the copy only cost start-up
time: copying the routers, and again each level of routers nested in them, was about a fifth of
building the app (docs/performance.md, "Startup"). A router mounted a second time is refused rather
than shared.
"""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.exceptions import ImproperlyConfiguredException


class MountedOnce(Router):
    """A ``Router`` that Litestar registers as itself instead of a deep copy; it can be mounted once."""

    def __deepcopy__(self, memo: dict[int, Any]) -> MountedOnce:
        # Litestar sets ``owner`` on the value it registers, right after copying it: an owner here
        # means this router is mounted already.
        if self.owner is not None:
            raise ImproperlyConfiguredException(f"the router at {self.path!r} is mounted already")
        return self
