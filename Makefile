# Two commands do everything on a fresh machine (Python 3.11+ is the only prerequisite):
#   make demo   - create the virtualenv, install, migrate, run the end-to-end demo and serve the dashboard
#   make test   - install what the tests need and run lint, type checks and the whole suite
# (CI runs `.ci/run`, which calls `make test`.)

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PORT ?= 5000

.PHONY: demo test lint typecheck test-sqlite test-postgres browser services fmt migrate-check clean

$(STAMP): pyproject.toml
	@echo "==> creating virtualenv and installing Cashline (first run takes a few minutes)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

services:
	@scripts/ensure_services.sh

demo: $(STAMP) services
	@$(BIN)/cashline demo --port $(PORT)

browser:
	@scripts/ensure_browser.sh

lint: $(STAMP)
	@echo "==> ruff"
	@$(BIN)/ruff check addon connectors jobs tests bench migrations

typecheck: $(STAMP)
	@echo "==> mypy (strict) on addon/domain and connectors, then addon and jobs"
	@$(BIN)/mypy addon/domain connectors
	@$(BIN)/mypy addon jobs

test-sqlite: $(STAMP)
	@echo "==> pytest on SQLite (whole suite)"
	@$(BIN)/pytest -q -p no:cacheprovider

test-postgres: $(STAMP)
	@scripts/ensure_services.sh --postgres
	@echo "==> pytest on PostgreSQL (every database test again, and the migration checks)"
	@TEST_DATABASE_URL=$(PG_URL) $(BIN)/pytest -q -p no:cacheprovider -m db

test: $(STAMP) services browser lint typecheck test-sqlite test-postgres

fmt: $(STAMP)
	@$(BIN)/ruff format addon connectors jobs tests bench migrations
	@$(BIN)/ruff check --fix addon connectors jobs tests bench migrations

migrate-check: $(STAMP)
	@$(BIN)/pytest -q tests/test_migrations.py

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
