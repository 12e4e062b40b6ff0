# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# schemathesis in an environment of its own: it pins an older jsonschema-rs than the service's.
SCHEMATHESIS_VENV := .venv-schemathesis
SCHEMATHESIS := $(SCHEMATHESIS_VENV)/.installed

.PHONY: install run test lint format clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

install: $(INSTALLED)

$(SCHEMATHESIS): tests/contract/requirements.txt
	$(PYTHON) -m venv $(SCHEMATHESIS_VENV)
	$(SCHEMATHESIS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCHEMATHESIS_VENV)/bin/python -m pip install --quiet -r tests/contract/requirements.txt
	touch $(SCHEMATHESIS)

## Serve on the embedded SQLite database (.data/events.db) with a demo session receiving events.
run: install
	$(BIN)/session-events serve --demo

## Lint, check the contract, run every suite (SQLite and PostgreSQL) with coverage.
test: install $(SCHEMATHESIS) lint
	$(BIN)/python -m openapi_spec_validator openapi/events-api.yaml
	$(BIN)/pytest --cov=handlers --cov=db --cov-report=term-missing:skip-covered --cov-fail-under=95

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) $(SCHEMATHESIS_VENV) .data .pytest_cache .ruff_cache .coverage
