# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# schemathesis in an environment of its own: it pins an older jsonschema-rs than the service's.
SCHEMATHESIS_VENV := .venv-schemathesis
SCHEMATHESIS := $(SCHEMATHESIS_VENV)/.installed

.PHONY: install run load test lint format clean lock check-minimums wheel client screenshots

# The locks (requirements/*.txt, hashed) are made from pyproject.toml and
# tests/contract/requirements.in by `make lock`; installs take exactly what they pin.
RUN_INSTALLED := $(VENV)/.installed-run
PIP_LOCKED := python -m pip install --quiet --require-hashes -r

$(RUN_INSTALLED): pyproject.toml clients/python/pyproject.toml requirements/run.txt
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/$(PIP_LOCKED) requirements/run.txt
	$(BIN)/python -m pip install --quiet --no-deps -e clients/python -e .
	touch $(RUN_INSTALLED)

$(INSTALLED): $(RUN_INSTALLED) requirements/test.txt
	$(BIN)/$(PIP_LOCKED) requirements/test.txt
	touch $(INSTALLED)

install: $(INSTALLED)

$(SCHEMATHESIS): requirements/schemathesis.txt
	$(PYTHON) -m venv $(SCHEMATHESIS_VENV)
	$(SCHEMATHESIS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCHEMATHESIS_VENV)/bin/$(PIP_LOCKED) requirements/schemathesis.txt
	touch $(SCHEMATHESIS)

TOOLS_VENV := .venv-tools
UV := $(TOOLS_VENV)/bin/uv
COMPILE := $(UV) pip compile --quiet --python-version 3.11 --universal --generate-hashes \
	--no-emit-package session-events-client

$(UV):
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet uv

## Regenerate the locks after changing a dependency (add --upgrade to COMPILE to move them on).
lock: $(UV)
	$(COMPILE) pyproject.toml --extra demo -o requirements/run.txt
	$(COMPILE) pyproject.toml --extra demo --extra test -o requirements/test.txt
	$(COMPILE) tests/contract/requirements.in -o requirements/schemathesis.txt

## Install the lowest versions pyproject.toml allows into .venv-minimums and run the smoke test.
check-minimums: $(UV) install
	$(PYTHON) -m venv .venv-minimums
	$(UV) pip compile --quiet --python-version 3.11 --resolution lowest-direct pyproject.toml \
		-o .venv-minimums/requirements.txt
	.venv-minimums/bin/python -m pip install --quiet -r .venv-minimums/requirements.txt
	.venv-minimums/bin/python -m pip install --quiet --no-deps -e .
	.venv-minimums/bin/python -m support.smoke

## Serve on the embedded SQLite database (.data/events.db) with a demo session receiving events;
## make run PORT=8123 (or HOST=0.0.0.0) to serve elsewhere.
HOST ?= 127.0.0.1
PORT ?= 8000
run: $(RUN_INSTALLED)
	$(BIN)/session-events serve --demo --host $(HOST) --port $(PORT)

## Load the server of `make run` with perf/locustfile.py's fleet for 30 s (its keys from .data/).
load: install
	$(BIN)/locust -f perf/locustfile.py --host http://$(HOST):$(PORT) --headless -u 100 -r 50 -t 30s

## Build dist/session_events-<version>-py3-none-any.whl: the service, with its contract inside.
wheel: $(RUN_INSTALLED)
	rm -rf build  # setuptools would pack whatever an earlier build left in build/lib
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist . clients/python

## Regenerate the client's models (clients/python/session_events_client/models.py) from the contract.
client: install
	cd clients/python && PATH=$(CURDIR)/$(BIN):$$PATH $(CURDIR)/$(BIN)/datamodel-codegen

## Lint, check the contract, run every suite (SQLite and PostgreSQL) with coverage of the
## service (its servers and commands measured in their own processes too).
test: install $(SCHEMATHESIS) lint
	$(BIN)/python -m openapi_spec_validator openapi/events-api.yaml
	$(BIN)/pytest --cov=handlers --cov=db --cov=session_events --cov-report=term-missing:skip-covered --cov-fail-under=95

## The README's screenshots (docs/*.png), taken by the browser tests that draw them.
screenshots: install
	EVENTS_SCREENSHOTS_DIR=docs $(BIN)/pytest tests/browser -q -p no:cacheprovider \
		-k "screenshot or shows_a_sessions_events_and_a_new_one"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) $(SCHEMATHESIS_VENV) $(TOOLS_VENV) .venv-minimums .data .pytest_cache .ruff_cache .coverage \
		build dist *.egg-info
