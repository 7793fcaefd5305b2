# syntax=docker/dockerfile:1.7
#
# One image for every role of the service; the command picks the role:
#   api: voicepractice serve --host 0.0.0.0 --port 8080
#   worker: voicepractice worker
#   migrations: voicepractice db upgrade
#   analysis: voicepractice analysis-server --host 0.0.0.0 --port 8100
# The API is the default command; it runs WEB_CONCURRENCY (2) uvicorn processes, one per core, forked
# from one that imported and built the app (entrypoints/http/serving.py). The
# worker serves its metrics on WORKER_METRICS_PORT (9100) of every
# interface in the container (WORKER_METRICS_HOST=::; outside a container it is loopback). The
# analysis server is the reference implementation of the analysis protocol, optional in production.
#
#   docker build -t voice-practice .
#   docker run --env-file prod.env -p 8080:8080 voice-practice
#   docker run --env-file prod.env voice-practice voicepractice worker
#   docker run --env-file prod.env voice-practice voicepractice db upgrade
#
# APP_ENV is production: the processes refuse to start without real secrets (README, "Configuration").
# tests/unit/test_deployment_files.py checks that every command named here exists in the CLI.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# ---- build: the locked dependencies and the project in /app/.venv -------------------------------
FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app

# Dependencies alone first: this layer is rebuilt only when pyproject.toml or uv.lock change.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-project

# Then the project, installed in editable mode: the venv points at /app/src, where migrations.py also
# finds alembic.ini and migrations/ (two levels above src/adapters/persistence).
COPY pyproject.toml uv.lock README.md alembic.ini ./
COPY src ./src
COPY migrations ./migrations
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev \
    && python -m compileall -q src migrations

# ---- runtime: Python, the venv and the code; no uv, no compilers, not root ---------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    WEB_CONCURRENCY=2 \
    WORKER_METRICS_HOST=:: \
    WORKER_METRICS_PORT=9100 \
    LOCAL_STORAGE_DIR=/app/var/storage
# espeak-ng says a reference's text for the forced alignment of its word timings (adapters.audio.espeak).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends espeak-ng libespeak-ng1 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY --from=build /app/src /app/src
COPY --from=build /app/migrations /app/migrations
COPY --from=build /app/alembic.ini /app/alembic.ini
# The code stays root-owned and read-only; only the local store (development fallback) is writable.
RUN mkdir -p /app/var/storage && chown -R app:app /app/var
USER app:app
EXPOSE 8080 9100
# uvicorn and the SAQ worker both stop gracefully on SIGTERM (README, "Operations").
STOPSIGNAL SIGTERM
CMD ["voicepractice", "serve", "--host", "0.0.0.0", "--port", "8080"]
