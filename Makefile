# `make run` serves a development site with demo content; `make test` checks everything.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000

export FLASK_APP := app

.PHONY: install run test lint format bench clean translations

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# newsletters.devsetup writes a development .env when there is none (and keeps the
# SITE_URL of its own .env on HOST:PORT), then prints the settings to export and the
# welcome shown before serving. An operator's own .env is never changed.
run: $(STAMP)
	@settings=$$($(BIN)/python -m newsletters.devsetup --host '$(HOST)' --port '$(PORT)' \
		--flask '$(BIN)/flask') && eval "$$settings" && \
	APP_ENV=$${APP_ENV:-development} $(BIN)/flask db upgrade && \
	APP_ENV=$${APP_ENV:-development} $(BIN)/flask newsletter demo && \
	printf '%s\n' "$$welcome" && \
	APP_ENV=$${APP_ENV:-development} exec $(BIN)/flask run --host '$(HOST)' --port '$(PORT)'

test: $(STAMP) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Measurements, not tests: on PostgreSQL and Redis (started or installed here, as
# .ci/run does), each script prints its table and rewrites its part of bench/results.md.
bench: $(STAMP)
	bash -c '. .ci/services.sh && ensure_postgres && ensure_redis && ensure_wrk'
	$(BIN)/python bench/queries.py
	$(BIN)/python bench/digest.py
	$(BIN)/python bench/signup.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/imports.py
	$(BIN)/python bench/sent_marks.py
	$(BIN)/python bench/retention.py
	$(BIN)/python bench/cron.py

# Readers' languages (docs/languages.md): collect every marked string into messages.pot,
# merge it into each language's messages.po, and compile the .mo files the app reads. The
# compiled files are committed, so a fresh checkout serves every language with no step.
TRANSLATIONS := newsletters/translations
translations: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k N_ --no-location -w 100 \
		--project newsletters -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel -q update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) \
		-w 100 --ignore-obsolete
	$(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
