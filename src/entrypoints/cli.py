"""The ``voicepractice`` command: serve the API, run migrations, create admins, load the demo catalog.

Each command imports what it runs inside its body: every process starts through this module, and the
API must not pay for the worker, Alembic or the analysis server at start-up (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from domain.errors import DomainError
from entrypoints.settings import ConfigurationError, Settings
from shared_kernel.settings import markdown_table, with_tables

if TYPE_CHECKING:
    from entrypoints.bootstrap import Container

METRICS_DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
GRACEFUL_SHUTDOWN_SECONDS = 20
# How long past the graceful shutdown a forked API process is waited for before it is killed.
STOP_MARGIN_SECONDS = 10
# uvicorn's exit code when the app's lifespan startup failed.
STARTUP_FAILURE = 3
# Net allocations between runs of the cyclic collector's youngest generation in an API process (see
# collect_young_garbage_less_often); Python's default is 700.
API_YOUNG_GC_THRESHOLD = 20_000

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigurationError as error:
        raise click.ClickException(f"configuration refused: {error}") from error


def _with_container(work: Callable[[Container], Awaitable[T]]) -> T:
    from entrypoints.bootstrap import build_container

    async def run() -> T:
        container = await build_container(_settings())
        try:
            return await work(container)
        finally:
            await container.close()

    try:
        return asyncio.run(run())
    except DomainError as error:
        raise click.ClickException(error.message) from error


@contextmanager
def _collecting_no_garbage_while_starting() -> Iterator[None]:
    """No cyclic garbage collection while a process imports and builds what it runs, then the objects made
    so far moved out of the collector's sight (``gc.freeze``).

    Importing the app allocates hundreds of thousands of long-lived objects and the collector ran over
    and over among them: about a sixth of the import's CPU (docs/performance.md, "Startup"). Frozen, they
    are never scanned again, and processes forked afterwards do not write to their pages by scanning.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def collect_young_garbage_less_often(young_threshold: int = API_YOUNG_GC_THRESHOLD) -> None:
    """Run the cyclic collector's youngest generation after ``young_threshold`` net allocations instead
    of 700; the older generations keep their ratios (10, 10) to it.

    An API process holding 10,000 SSE streams keeps millions of long-lived objects. At 700, every
    object alive across a couple of young collections (a stream's wait for its next message, a batched
    check's answer) was promoted into the oldest generation, whose growth by a quarter starts a full
    collection over all of them: a third of the busy samples in a profile of 10,000 streams (py-spy
    --native, docs/performance.md "SSE"), and a stall of every stream meanwhile. Collected less often,
    short-lived objects are gone before a collection sees them.
    """
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, oldest)


@click.group()
def main() -> None:
    """Voice practice service."""


@main.command()
@click.option("--host", default=None, help="[default: $HOST or 127.0.0.1]")
@click.option("--port", default=None, type=int, help="[default: $PORT or 8000]")
@click.option("--workers", default=None, type=int, help="[default: $WEB_CONCURRENCY or 1]")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the HTTP API with uvicorn: the app is built once, then forked into --workers processes."""
    from entrypoints.http.serving import listening_socket

    settings = _settings()
    workers = workers or settings.serve_workers
    raise_open_files_limit()
    shared_metrics: str | None = None
    if workers > 1 and not os.environ.get(METRICS_DIRECTORY_VARIABLE):
        # Several processes behind one port: each keeps its metrics in files under one directory, and
        # /metrics of any of them sums them all (prometheus_client's multiprocess mode). It reads the
        # variable when it is imported, which the app below does.
        shared_metrics = tempfile.mkdtemp(prefix="voicepractice-metrics-")
        os.environ[METRICS_DIRECTORY_VARIABLE] = shared_metrics
    # Listening before the app is imported: connections made meanwhile wait to be served, not refused.
    sock = listening_socket(host or settings.serve_host, settings.serve_port if port is None else port)
    try:
        code = _serve_on(sock, settings, workers)
    finally:
        sock.close()
        if shared_metrics is not None:
            shutil.rmtree(shared_metrics, ignore_errors=True)
    if code:
        sys.exit(code)


def _serve_on(sock: socket.socket, settings: Settings, workers: int) -> int:
    from entrypoints.http.serving import Prefork

    with _collecting_no_garbage_while_starting():
        import uvicorn

        from adapters.audio import decoding
        from entrypoints.http.app import create_app

        config = uvicorn.Config(
            create_app(settings),
            **uvicorn_proxy_options(settings),
            log_config=None,
            # The request middleware logs each request; uvicorn's own access line, disabled in
            # entrypoints.logging, would still have its arguments (client address, quoted path) built
            # on every response while its logger has a handler up the tree.
            access_log=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
        # Whatever the first requests import (uvicorn's protocols and event loop, the uploads' decoder)
        # is imported once, before any fork.
        config.load()
        config.get_loop_factory()
        decoding.preload()
    collect_young_garbage_less_often()

    def serve_once() -> int:
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
        return 0 if server.started else STARTUP_FAILURE

    if workers == 1:
        return serve_once()
    prefork = Prefork(
        serve_once, workers, GRACEFUL_SHUTDOWN_SECONDS + STOP_MARGIN_SECONDS, on_child_exit=_forget_metrics
    )
    return prefork.run()


def _forget_metrics(pid: int) -> None:
    """A dead API process's live gauges (open SSE streams) leave the sums /metrics reports."""
    directory = os.environ.get(METRICS_DIRECTORY_VARIABLE)
    if directory:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def raise_open_files_limit() -> None:
    """Lift the soft limit on open files to the hard one: every SSE stream holds a socket, and the usual
    soft limit (1,024) would refuse connections long before the process runs out of anything else."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and hard != resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def uvicorn_proxy_options(settings: Settings) -> dict[str, Any]:
    """Forwarded headers only from the proxies named in TRUSTED_PROXIES. Believed from anyone, they let a
    client choose the address its log-in and sign-up limits are counted against."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(settings.trusted_proxies)}


@main.command()
def worker() -> None:
    """Run the SAQ worker: relay queued jobs to the analysis servers and run the housekeeping.

    WORKER_CONCURRENCY (default 10), WORKER_SWEEP_INTERVAL_SECONDS (1) and WORKER_SHUTDOWN_GRACE_SECONDS
    (20) tune it. SIGTERM lets the jobs in flight finish first.
    """
    with _collecting_no_garbage_while_starting():
        from entrypoints.worker import WorkerSettings, start_worker

    settings = _settings()
    try:
        options = WorkerSettings.from_env()
    except ConfigurationError as error:
        raise click.ClickException(f"configuration refused: {error}") from error
    start_worker(settings, options)


@main.command("analysis-server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8100, type=int, show_default=True)
def analysis_server(host: str, port: int) -> None:
    """Run the reference analysis server (docs/analysis-protocol.md) with uvicorn.

    ANALYSIS_SERVER_CONCURRENCY (default: the CPU count) jobs are analysed at once in as many
    processes, and ANALYSIS_SERVER_QUEUE_SIZE (32) more wait; SIGTERM lets them finish first.
    """
    import uvicorn

    from entrypoints.analysis_server.settings import AnalysisServerSettings

    try:
        settings = AnalysisServerSettings.from_env()
    except ConfigurationError as error:
        raise click.ClickException(f"configuration refused: {error}") from error
    uvicorn.run(
        "entrypoints.analysis_server.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        log_config=None,
        # One process: its queue, its analysis processes and the job ids it remembers are this
        # process's own, and ANALYSIS_SERVER_CONCURRENCY and ANALYSIS_SERVER_QUEUE_SIZE bound the whole
        # server. Left unset, uvicorn would take WEB_CONCURRENCY, the API's process count, which
        # run-all, the Dockerfile and fly.toml set for every process on the machine.
        workers=1,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )


@main.group()
def db() -> None:
    """Database schema management (Alembic)."""


@db.command("create")
def db_create() -> None:
    """Create the database named in DATABASE_URL when it does not exist."""
    from adapters.persistence import migrations

    created = migrations.ensure_database(_settings().database_url)
    click.echo("database created" if created else "database exists")


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from adapters.persistence import migrations

    migrations.upgrade(_settings().database_url, revision)


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (e.g. -1, base)."""
    from adapters.persistence import migrations

    migrations.downgrade(_settings().database_url, revision)


@main.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", "display_name", default="Administrator", show_default=True)
@click.option("--password", envvar="ADMIN_PASSWORD", prompt=True, hide_input=True, confirmation_prompt=True)
def create_admin(email: str, display_name: str, password: str) -> None:
    """Create an admin account, or promote an existing account and reset its password."""
    from application.accounts import SignUpRequest

    request = SignUpRequest(email=email, password=password, display_name=display_name)
    user = _with_container(lambda c: c.registration.create_or_promote_admin(request))
    click.echo(f"admin {user.email} ({user.id})")


@main.command("seed-demo")
def seed_demo() -> None:
    """Load the demo catalog (actors, tokens, scripts with reference audio) unless the catalog has tokens."""
    from entrypoints.demo import load_demo_catalog

    loaded = _with_container(load_demo_catalog)
    click.echo(loaded)


@main.command("run-all")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, type=int, show_default=True, help="API port")
@click.option("--analysis-port", default=8100, type=int, show_default=True)
def run_all(host: str, port: int, analysis_port: int) -> None:
    """Run the API, the worker and the reference analysis server together (development)."""
    from entrypoints.supervisor import run_all as supervise

    _settings()
    sys.exit(supervise(port, analysis_port, host))


# The documents whose configuration tables `settings-docs` writes, and the tables each holds.
SETTINGS_DOCUMENTS = {
    "README.md": ("configuration", "operations", "tracing"),
    "docs/reference-analysis-server.md": ("analysis-server",),
}


def settings_tables() -> dict[str, str]:
    """Every configuration table, rendered from the settings classes that read the variables."""
    from entrypoints.analysis_server.settings import AnalysisServerSettings
    from entrypoints.worker import WorkerSettings

    return {
        "configuration": markdown_table("configuration", Settings, WorkerSettings),
        "operations": markdown_table("operations", Settings),
        "tracing": markdown_table("tracing", Settings),
        "analysis-server": markdown_table("analysis-server", AnalysisServerSettings),
    }


@main.command("settings-docs")
@click.option("--check", is_flag=True, help="Only report documents whose tables differ (exit 1).")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path(), show_default=".")
def settings_docs(check: bool, root: Path) -> None:
    """Write the configuration tables of the README and docs/ from the settings classes."""
    tables = settings_tables()
    stale = []
    for name, table_names in SETTINGS_DOCUMENTS.items():
        path = root / name
        current = path.read_text()
        wanted = with_tables(current, {table: tables[table] for table in table_names})
        if wanted != current:
            stale.append(name)
            if not check:
                path.write_text(wanted)
    if check and stale:
        raise click.ClickException(f"configuration tables out of date: {', '.join(stale)}")
    click.echo(f"{'out of date' if check and stale else 'written' if stale else 'up to date'}: {len(stale)}")


@main.command("check-config")
def check_config() -> None:
    """Validate the environment as the service would at start-up (non-zero exit when refused)."""
    settings = _settings()
    click.echo(f"configuration ok for APP_ENV={settings.environment}")
