# The documented commands. `make run` and `make test` set up everything they need on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export PATH := $(HOME)/.local/bin:$(PATH)
export UV_PYTHON_DOWNLOADS := never
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
RUN := $(UV) run --frozen
DEBIAN_PACKAGES := espeak-ng libespeak-ng1
# Only the test command needs these: the browser tests drive Debian's headless Chromium through Playwright
# (never `playwright install`), with fonts so text renders in their screenshots. Installed without
# Recommends, which would bring systemd, udev, avahi and CUPS along.
BROWSER_TEST_PACKAGES := chromium fonts-dejavu-core fonts-liberation

# $(call apt_install,PACKAGES,EXTRA_APT_OPTIONS): apt-get install whichever of PACKAGES dpkg lacks (sudo unless root).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(2) $$missing >/dev/null; \
	fi
endef

.PHONY: help setup system-deps test-deps migrate run test lint typecheck web-typecheck contracts pytest docs bench bench-venv eval clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(UV):
	python3 -m pip install --quiet --user --break-system-packages uv 2>/dev/null || python3 -m pip install --quiet --user uv

system-deps:  ## Debian packages the analysis and its tests need (espeak-ng for speech synthesis)
	$(call apt_install,$(DEBIAN_PACKAGES))

test-deps:  ## Debian packages only the tests need (headless Chromium and fonts for the browser tests)
	$(call apt_install,$(BROWSER_TEST_PACKAGES),--no-install-recommends)

# PYTHONDONTWRITEBYTECODE is set on CI machines: without compiled bytecode every process the tests start
# (API, worker, analysis server) recompiles its imports, which under load costs several seconds each.
setup: $(UV) system-deps  ## Install uv, Debian packages and the locked Python dependencies
	$(UV) sync --frozen --compile-bytecode
	$(UV) run --frozen python -m compileall -q src

migrate: setup  ## Create the database if missing and apply the migrations
	$(RUN) voicepractice db create
	$(RUN) voicepractice db upgrade

run: migrate  ## The whole system: API on http://127.0.0.1:8000, worker, analysis server on :8100, demo catalog
	$(RUN) voicepractice seed-demo
	$(RUN) voicepractice run-all --host 127.0.0.1 --port 8000 --analysis-port 8100

test: setup test-deps lint typecheck contracts pytest  ## Lint, import contracts, type checks and the whole test suite

lint:
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: web-typecheck
	$(RUN) mypy

# The web client's modules are served as written; TypeScript (package-lock.json) only checks their JSDoc
# types. npm ci runs again when package.json or the lock file changes.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

web-typecheck: node_modules/.package-lock.json  ## Type-check the web client's JavaScript (tsc --noEmit over its JSDoc)
	npx --no-install tsc --noEmit -p tsconfig.json

contracts:
	$(RUN) lint-imports

pytest:
	$(RUN) pytest

docs:  ## Write the README's and docs/' configuration tables from the settings classes
	$(RUN) voicepractice settings-docs

# The dependencies the Dockerfile installs (no dev group), compiled, beside the project's own venv: what a
# deployed process imports at start-up. The dev group (moto's server, schemathesis) brings pydantic and
# cryptography, which Litestar, PyJWT and redis import whenever they are installed.
BENCH_VENV := .bench/production-venv

bench-venv: $(UV)  ## The dependencies as the Dockerfile installs them (no dev group) in .bench/production-venv
	UV_PROJECT_ENVIRONMENT=$(BENCH_VENV) $(UV) sync --frozen --no-dev --compile-bytecode

bench: setup bench-venv  ## Benchmarks; figures are printed next to a baseline measured in the same run
	$(RUN) python -m bench.voice_bench
	$(RUN) python -m bench.pipeline_bench
	$(RUN) python -m bench.overload_bench
	$(RUN) python -m bench.startup_bench
	$(RUN) python -m bench.sse_bench
	$(RUN) python -m bench.feed_bench
	$(RUN) python -m bench.analysis_bench

# Not part of `make test`: it downloads about 40 MB of human recordings (cached in var/evaluation/cache)
# and takes several minutes of CPU. The Asterisk prompts come as Debian packages, fetched by apt-get;
# pocketsphinx (PyPI, with its English model) is installed for this run only: the product does not use it.
eval: setup  ## Voice comparison on human recordings against the issue-13 targets (report in var/evaluation)
	nice -n 15 $(RUN) --with pocketsphinx==5.1.1 python -m bench.evaluation

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache var node_modules
