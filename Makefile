# Developer entry points. `make test` is what CI runs (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch is installed first so that the unpinned `torch>=2.2`
# requirement of the package does not pull a multi-GB CUDA build.
TORCH_CPU ?= torch==2.13.0

.PHONY: test lint format venv demo bench-attention clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_CPU)

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/python -m pytest -q

demo: venv
	$(BIN)/python -m sktime_logsparse.demo

bench-attention: venv
	$(BIN)/python benchmarks/attention.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
