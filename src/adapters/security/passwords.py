"""argon2id password hashing, off the event loop.

One argon2id hash costs tens of milliseconds of CPU and 64 MiB. Run on the event loop it stalls every
other request of the process (200 concurrent sign-ups pushed ``/health`` from 1 ms to 1 s), so hashing and
verifying run on a small thread pool of their own: argon2-cffi releases the GIL while it hashes, the loop
keeps answering, and the pool's size bounds how much CPU and memory password work can take at once.
Callers beyond the pool's size wait in its queue; the sign-up and log-in rate limits bound that queue.

The pool's threads run at a lower CPU priority (a higher nice value; argon2's own lane threads inherit
it): on a busy machine the scheduler then hands the core to the event loop first, so a flood of sign-ups
slows sign-ups, not every other request (figures in the README, "Rate limits").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

HASHING_NICENESS = 10


def default_workers() -> int:
    """One core's worth of hashing, never all of them: more threads would only queue on the CPU, multiply
    the memory and leave the event loop none."""
    return max(1, (os.cpu_count() or 2) - 1)


def _lower_priority() -> None:
    """Pool thread initializer: on Linux a thread is a schedulable task with a nice value of its own."""
    # Not Linux, or not allowed: hashing still runs off the loop, at the loop's priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


class Argon2PasswordHasher:
    def __init__(self, hasher: PasswordHasher | None = None, *, workers: int | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._pool = ThreadPoolExecutor(
            max_workers=workers or default_workers(), thread_name_prefix="argon2", initializer=_lower_priority
        )

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._verify, password_hash, password
        )

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
