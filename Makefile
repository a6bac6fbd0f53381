# lambda-emu: the two commands a new user needs are `make demo` and `make test`.
# Everything is installed into a virtual environment of the project's own (.venv, made on first use), so
# `make` never installs into whatever python3 happens to be first on PATH.
BOOTSTRAP_PYTHON ?= python3
VENV ?= .venv
PYTHON := $(VENV)/bin/python
PIP := $(PYTHON) -m pip
# The venv's commands (lambda-emu, ruff, mypy) come first for every recipe, and for the tests' subprocesses.
export PATH := $(abspath $(VENV))/bin:$(PATH)
DOCKER_UP ?= ../shared/env/docker-up.sh
RUNTIMES ?= python3.11 python3.13
# What runs execution environments: auto (Docker when its engine answers, else the embedded backend: root and
# runc or crun, no engine), docker or embedded. `make demo BACKEND=embedded` needs no engine.
BACKEND ?= auto

.PHONY: demo test install venv docker images bench test-embedded lint clean-containers service-model

## demo: set everything up and invoke a sample function
demo: docker install images
	LAMBDA_EMU_BACKEND=$(BACKEND) lambda-emu invoke HelloFunction -t sample_functions/template.yaml -e sample_functions/events/hello.json

## test: set everything up and run every test tier (unit, docker, e2e)
test: docker install images
	$(PYTHON) -m pytest -ra

## test-embedded: the Docker tier's invoke, limits and hostile tests on the embedded backend (needs root)
test-embedded: docker install images
	LAMBDA_EMU_BACKEND=embedded $(PYTHON) -m pytest -ra tests/docker/test_invoke.py tests/docker/test_limits.py \
	  tests/docker/test_hostile_functions.py tests/docker/test_embedded_backend.py tests/docker/test_tmp_disks.py

## venv: the project's virtual environment
venv: $(PYTHON)
$(PYTHON):
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check --upgrade pip

## install: lambda-emu with its test and lint tools, editable, into the venv
install: venv
	$(PIP) install --quiet --disable-pip-version-check -e ".[dev]"

## docker: make sure something runs execution environments: a Docker engine that answers (one is started on
## this project's machines), else, for BACKEND=auto or embedded, the embedded backend (root and runc or crun)
docker:
	@embedded_runs() { [ "$$(id -u)" = 0 ] && { command -v runc || command -v crun || [ -x /usr/sbin/runc ]; } >/dev/null; }; \
	if [ "$(BACKEND)" = embedded ]; then \
	  embedded_runs || { echo "The embedded backend needs root and runc or crun (apt-get install runc)." >&2; exit 1; }; \
	elif ! docker info >/dev/null 2>&1; then \
	  if [ -f "$(DOCKER_UP)" ]; then bash "$(DOCKER_UP)"; \
	  elif [ "$(BACKEND)" = auto ] && embedded_runs; then \
	    echo "No Docker engine answers: the embedded backend (runc) runs the functions instead." >&2; \
	  else echo "No Docker engine answers: start Docker, or run as root with runc or crun installed" \
	    "(the embedded backend), then retry." >&2; exit 1; fi; fi

## images: build the runtime images (cached: nothing is rebuilt when nothing changed)
images: install
	LAMBDA_EMU_BACKEND=$(BACKEND) lambda-emu runtimes build $(RUNTIMES)

## bench: medians of cold and warm invokes beside the floors measured in the same run (cold_bench.py: the CLI)
bench: docker install images
	$(PYTHON) bench/cold_bench.py
	$(PYTHON) bench/bench.py
	$(PYTHON) bench/api_bench.py
	$(PYTHON) bench/reload_bench.py
	$(PYTHON) bench/start_api_bench.py
	$(PYTHON) bench/sqs_bench.py
	$(PYTHON) bench/runtimes_bench.py
	$(PYTHON) bench/provisioned_bench.py

## service-model: regenerate lambda_emu/service_model.py from the installed botocore (after a pin upgrade)
service-model: install
	$(PYTHON) tools/generate_service_model.py

## lint: ruff (lint and format) and mypy, as CI runs them
lint: install
	ruff check lambda_emu runtimes tests bench tools
	ruff format --check lambda_emu runtimes tests bench tools
	mypy lambda_emu tools

## clean-containers: remove every container lambda-emu made (only those carry its label)
clean-containers:
	-docker rm -f $$(docker ps -aq --filter label=dev.lambda-emu=1) 2>/dev/null
