# landbot-resume: `make demo` plays the whole flow locally, `make test` runs every check.
# Everything runs from a virtual environment this Makefile creates with Python 3.13 (the
# Lambda runtime's version), wherever that Python is installed.

# The first candidate that really runs 3.13 (a pyenv shim may exist and refuse to run).
PYTHON ?= $(shell for c in $$(command -v python3.13) $$(ls -d $$HOME/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | sort -rV) /usr/local/bin/python3.13 /usr/bin/python3.13; do "$$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && { echo "$$c"; break; }; done)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
WHEELS := .cache/wheels
LAYER_WHEEL_ARGS := --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.13 --implementation cp --no-deps

export PATH := $(BIN):$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= eu-west-1
# sam build takes the layer's wheels from here, so builds (and their tests) need no network.
export WHEELHOUSE := $(CURDIR)/$(WHEELS)

.PHONY: install demo run chaos redrive test lint typecheck unit validate build clean openapi bench

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml layers/shared/requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.13 is needed: install it (e.g. pyenv install 3.13) or set PYTHON=/path/to/python3.13"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip==26.3
	$(BIN)/python -m pip install --quiet -r layers/shared/requirements.txt --group dev
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip download --quiet $(LAYER_WHEEL_ARGS) -r layers/shared/requirements.txt -d $(WHEELS)
	touch $@

demo: install
	python -m tests.stack demo

run: install
	python -m tests.stack run

# Defaults sized for a 2-core machine; e.g. `make chaos CHAOS_ARGS="--processes 100"`.
chaos: install
	python -m tests.stack chaos $(CHAOS_ARGS)

# Replays the dead-letter queue into the completion queue: on the local stack (while
# `make run` runs; ENDPOINT_URL=... for another port), or on a deployed one with
# STACK=<stack name> [REGION=<region>].
ENDPOINT_URL ?= http://127.0.0.1:5000
redrive: install
	landbot-resume redrive $(if $(STACK),--stack $(STACK),--endpoint-url $(ENDPOINT_URL)) $(if $(REGION),--region $(REGION))

# Rewrites docs/openapi.json from the webhook function's routes and models (a test checks it).
openapi: install
	python -m tests.stack openapi

# The benchmarks (bench/): one table each, exit 1 when a target is missed. Several minutes;
# run on a quiet machine. e.g. `make bench BENCH_ARGS="--quick"` or "cold_start webhook_intake".
bench: install
	python -m bench $(BENCH_ARGS)

test: lint typecheck
	python -m pytest

lint: install
	ruff check .
	ruff format --check .

typecheck: install
	mypy

unit: install
	python -m pytest tests/unit

validate: install
	sam validate --lint

build: install
	PIP_NO_INDEX=1 PIP_FIND_LINKS=$(WHEELHOUSE) sam build

clean:
	rm -rf $(VENV) .cache .aws-sam
