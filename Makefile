# Two commands set everything up: `make run` and `make test`. Each target is idempotent.
# Without DATABASE_URL an embedded PostgreSQL (pgserver) runs with its data in .pgdata/: the
# targets below turn on DEBUG or EMBEDDED_POSTGRES, without which settings refuse to start one.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
PORT ?= 8000
HOST ?= 127.0.0.1
WORKERS ?= 2

.PHONY: install run serve test lint bench superuser clean-db

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet ".[dev]"
	touch $@

# Local demo: DEBUG on (plain http, development secret key) unless the environment says otherwise.
run: export DEBUG ?= 1
run: install
	$(MANAGE) migrate --noinput
	$(MANAGE) collectstatic --noinput --verbosity 0
	$(MANAGE) load_demo_catalog
	@echo ""
	@echo "  Public endpoint  http://$(HOST):$(PORT)/inference/router/openrouter/models"
	@echo "  Admin            http://$(HOST):$(PORT)/admin/"
	@echo "  API docs         http://$(HOST):$(PORT)/api/docs/   (schema: /api/schema/)"
	@echo "  Health           http://$(HOST):$(PORT)/healthz"
	@echo ""
	@echo "  Sign in to the admin with a staff account; create one with:"
	@echo "      make superuser"
	@echo ""
	$(BIN)/gunicorn config.wsgi --bind $(HOST):$(PORT) --workers $(WORKERS) --access-logfile -

superuser: export DEBUG ?= 1
superuser: install
	$(MANAGE) createsuperuser

# The whole suite against real PostgreSQL: DATABASE_URL, or the embedded server.
test: export SECRET_KEY ?= test-only-secret-key
test: export EMBEDDED_POSTGRES ?= 1
test: export SECURE_SSL_REDIRECT = 0
test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: export SECRET_KEY ?= lint-only-secret-key
lint: export EMBEDDED_POSTGRES ?= 1
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(MANAGE) check
	$(MANAGE) makemigrations --check --dry-run

# Performance figures side by side (about 8 minutes): prints tables, rewrites docs/PERFORMANCE.md.
# Uses its own databases (<database>_bench_*) on the same server and needs wrk (Debian package); see bench/.
# e.g. make bench BENCH_ARGS="--sizes 100,1000 --rounds 2"  (python -m bench --help)
bench: export SECRET_KEY ?= bench-only-secret-key
bench: export EMBEDDED_POSTGRES ?= 1
bench: export SECURE_SSL_REDIRECT = 0
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)
