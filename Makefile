# Hangar: `make run` serves the API on the embedded default, `make test` runs every check.
# Only Python 3.11+ and make are needed: uv is installed with pip when it is missing.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: run test setup uv lint format clean notebook

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		python3 -m pip install --user --quiet uv || \
		python3 -m pip install --user --quiet --break-system-packages uv

setup: uv
	$(UV) sync --frozen --all-groups

run: setup
	$(UV) run hangar serve

test: setup lint
	$(UV) run pytest

lint:
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

format: uv
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache

# JupyterLab on the project's environment; Jupyter is a dev-only group the service never needs.
notebook: uv
	$(UV) run --group jupyter jupyter lab notebooks/
