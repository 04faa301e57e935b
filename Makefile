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

.PHONY: help install demo run chaos redrive test lint typecheck unit validate build clean generated bench

help: ## list the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(VENV)/.installed ## create .venv with Python 3.13, the pinned tools and the layer's wheels
	@command -v shellcheck >/dev/null || echo "make install: shellcheck is missing, and make test's workflow lint needs it: apt-get install shellcheck (bash .ci/run installs it)" >&2

# checkov gets an environment of its own (.venv/checkov, linked into .venv/bin): its pins
# clash with the dev tools' (pyproject.toml, dependency group checkov).
$(VENV)/.installed: pyproject.toml layers/shared/requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.13 is needed: install it (e.g. pyenv install 3.13) or set PYTHON=/path/to/python3.13"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip==26.3
	$(BIN)/python -m pip install --quiet -r layers/shared/requirements.txt --group dev
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(PYTHON) -m venv --clear --without-pip $(VENV)/checkov
	$(BIN)/python -m pip --python $(VENV)/checkov/bin/python install --quiet --disable-pip-version-check --group checkov
	ln -sf ../checkov/bin/checkov $(BIN)/checkov
	$(BIN)/python -m pip download --quiet $(LAYER_WHEEL_ARGS) -r layers/shared/requirements.txt -d $(WHEELS)
	touch $@

demo: install ## play the whole flow once on the local stack (free ports) and check the resume
	python -m devstack demo

# exec: the stack, not a shell, gets the signals make passes on (SIGTERM).
run: install ## start the local stack on ports 3000/5000/8081 until Ctrl-C or SIGTERM
	exec python -m devstack run $(RUN_ARGS)

# Defaults sized for a 2-core machine; e.g. `make chaos CHAOS_ARGS="--processes 100"`.
chaos: install ## the chaos run: 500 processes, duplicate events, a faulty Landbot
	python -m devstack chaos $(CHAOS_ARGS)

# Replays the dead-letter queue into the completion queue: on the local stack (while
# `make run` runs; ENDPOINT_URL=... for another port), or on a deployed one with
# STACK=<stack name> [REGION=<region>].
ENDPOINT_URL ?= http://127.0.0.1:5000
redrive: install ## replay the dead-letter queue (local stack, or STACK=<name> [REGION=...])
	landbot-resume redrive $(if $(STACK),--stack $(STACK),--endpoint-url $(ENDPOINT_URL)) $(if $(REGION),--region $(REGION))

# Files generated from the code and committed (a test fails while one is stale).
generated: install ## rewrite docs/openapi.json and the layer's cold-start module list
	python -m devstack generate

# The benchmarks (bench/): one table each, exit 1 when a target is missed. Several minutes;
# run on a quiet machine. e.g. `make bench BENCH_ARGS="--quick"` or "cold_start webhook_intake".
bench: install ## the benchmarks (several minutes; BENCH_ARGS="--quick" for a smoke run)
	python -m bench $(BENCH_ARGS)

test: lint typecheck ## lint, type check and every test, the workflow lint and the IaC scans among them (what CI runs)
	python -m pytest

lint: install ## ruff check and ruff format --check
	ruff check .
	ruff format --check .

typecheck: install ## mypy --strict on the layer, the functions and devstack
	mypy

unit: install ## the unit tests only
	python -m pytest tests/unit

validate: install ## sam validate --lint
	sam validate --lint

build: install ## sam build, offline (the layer's wheels from .cache/wheels)
	PIP_NO_INDEX=1 PIP_FIND_LINKS=$(WHEELHOUSE) sam build

clean: ## remove .venv, .cache and .aws-sam
	rm -rf $(VENV) .cache .aws-sam
