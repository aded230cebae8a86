# pressfeed: `make run` serves the demo press office, `make test` runs the tests.
# Each target sets up the virtualenv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000

# The demo press office's look; set these in your environment to override.
export PRESSFEED_SITE_TITLE ?= Embassy of the Republic of Valdoria in Paris
export PRESSFEED_CONTACT ?= Press Office, 12 rue de l'Exemple, 75007 Paris\nTel. +33 1 00 00 00 00 · press@valdoria.example
export PRESSFEED_CLOCKS ?= Paris=Europe/Paris,Aurenza=Asia/Tbilisi,UTC=UTC
export PRESSFEED_TIMEZONE ?= Europe/Paris
export PRESSFEED_LANGUAGES ?= en,fr

# The interface's catalogs: .po edited, .mo compiled from them here; both are
# committed, so that a plain `pip install` serves every language.
CATALOGS := $(wildcard src/pressfeed/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

.PHONY: run test bench bench-scale lint format install clean catalogs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile -i $< -o $@

install: $(STAMP) $(COMPILED)

# Extracts every interface string into a template, to update the catalogs from.
catalogs: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k N_ --no-location -o messages.pot src/pressfeed
	$(BIN)/pybabel update --no-fuzzy-matching -i messages.pot -d src/pressfeed/translations
	rm messages.pot

# PORT=5401 serves on another port; links say it too unless PRESSFEED_BASE_URL is set.
run: $(STAMP) $(COMPILED)
	PRESSFEED_BASE_URL="$${PRESSFEED_BASE_URL:-http://$(HOST):$(PORT)}" $(BIN)/pressfeed demo --if-empty
	$(BIN)/pressfeed serve --host $(HOST) --port $(PORT)

test: $(STAMP) $(COMPILED)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(STAMP)
	command -v wrk >/dev/null && command -v nginx >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk nginx-light)
	$(BIN)/python -m benchmarks.bench

# A million statements on PostgreSQL against a thousand (an hour or more; not in make test).
bench-scale: $(STAMP)
	$(BIN)/python -m benchmarks.scale

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
