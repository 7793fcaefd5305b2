"""`voicepractice serve` lifts its soft limit on open files, so thousands of SSE streams get sockets."""

from __future__ import annotations

import resource

from entrypoints.cli import raise_open_files_limit


def test_the_soft_open_files_limit_is_raised_to_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = min(soft, 256)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
    try:
        raise_open_files_limit()
        raised, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert raised == hard if hard != resource.RLIM_INFINITY else raised == lowered
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
