# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist processes for make test: one per core of the 2-core machines we run on
TEST_WORKERS ?= 2

.PHONY: run test lint format install bench env-example clean catalogues

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml $(wildcard package.json package-lock.json) | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[postgres,test,dev]'
	@if [ -f package.json ]; then npm install --no-audit --no-fund --silent; fi
	touch $(STAMP)

install: $(STAMP)

## run: set up, migrate, load the demo (and build its digest) on an empty database, serve
run: $(STAMP)
	$(BIN)/mailer db upgrade
	$(BIN)/mailer demo --if-empty --build
	$(BIN)/mailer serve $(if $(PORT),--port $(PORT))

## test: set up with the test extras and run the whole suite (lint included) on SQLite and
## on PostgreSQL (a throwaway local cluster unless MAILER_TEST_DATABASE_URL is set)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	.ci/with-postgres $(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

env-example: $(STAMP)
	$(BIN)/mailer config --example > .env.example

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

## catalogues: extract readers' strings into messages.pot and merge them into every language's
## .po (new strings arrive untranslated; tests/core/test_i18n.py fails until they are translated)
catalogues: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ -k gettext_for:2 -k ngettext_for:2,3 \
		--no-location --sort-output --project newsletter-mailer -o mailer/translations/messages.pot .
	$(BIN)/pybabel update -i mailer/translations/messages.pot -d mailer/translations \
		--ignore-obsolete --width 100
