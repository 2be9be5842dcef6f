# Hangar: `make run` serves the API on the embedded default, `make test` runs every check.
# Only Python 3.11+ and make are needed: uv is installed with pip when it is missing.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: run test setup uv lint format clean notebook run-aws bench bench-scale browser

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		python3 -m pip install --user --quiet uv || \
		python3 -m pip install --user --quiet --break-system-packages uv

# Everything the checks, the tests, the notebook and the benchmark use. Installed modules are
# compiled once here: where Python may not write bytecode (PYTHONDONTWRITEBYTECODE, read-only
# installs) every process would compile them again as it imports them.
setup: uv
	$(UV) sync --frozen --all-groups --compile-bytecode

# The server alone: its runtime dependencies, none of the dev, Jupyter or benchmark groups.
run: uv
	$(UV) sync --frozen --no-default-groups --inexact --compile-bytecode
	$(UV) run --frozen --no-default-groups hangar serve

test: setup lint browser
	$(UV) run pytest

# Debian's Chromium for the browser test of /docs (tests/browser), installed when missing.
browser:
	sh scripts/install-browser.sh

lint:
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy
	$(UV) run lint-imports

format: uv
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache

# JupyterLab on the project's environment; Jupyter is a dev-only group the service never needs.
notebook: uv
	$(UV) run --group jupyter jupyter lab notebooks/

# The production stack (DynamoDB + S3) against a local moto server with dummy credentials;
# tables and bucket are created on start-up, and moto stops when the API does.
MOTO_PORT ?= 5000
run-aws: setup
	@$(UV) run moto_server -H 127.0.0.1 -p $(MOTO_PORT) >/dev/null 2>&1 & moto=$$!; \
	trap 'kill $$moto 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 50); do \
		$(UV) run python -c "import socket; socket.create_connection(('127.0.0.1', $(MOTO_PORT)), 1)" \
			2>/dev/null && break; sleep 0.2; \
	done; \
	DATABASE_TYPE=dynamodb STORAGE_TYPE=s3 AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) \
	AWS_AUTO_CREATE=true AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing \
	AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing \
	$(UV) run hangar serve

# A short benchmark run (about two minutes here): memory, sqlite and duckdb over local files, both
# modes, sqlite with 1 and 2 workers, and a 128 MiB file for the memory test. The full run behind
# docs/performance.md is `uv run python -m benchmarks` with its defaults (1 GiB, 10,000 projects).
bench: setup
	$(UV) run python -m benchmarks --users 10 --projects 1000 --requests 2400 --seconds 2 --files 30 \
		--big-file-mib 128

# The embedded databases bulk-seeded to 10,000, 100,000 and 1,000,000 projects: open time, RSS
# growth, first and deep pages, gets, creates and the server's start (benchmarks/scale.py; a few
# minutes here).
bench-scale: setup
	$(UV) run python -m benchmarks.scale
