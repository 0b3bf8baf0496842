# Set-up and everyday commands. `make demo` and `make test` work on a fresh clone: they
# create .venv and install everything the first time (pip only; torch comes from the
# package index or, on machines that provide them, local wheels).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
EXTRAS ?= test,service,hub,tabular,bench
PYTEST_ARGS ?=

.PHONY: install demo test test-fast clean-demo

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	touch $@

install: $(VENV)/.installed

## Run the main job on the small real sample shipped in examples/ (no network, no GPU needed).
demo: install
	$(VENV)/bin/labelscout select examples/cifar10-sample -n 30 --out runs/quickstart
	@echo "Results: runs/quickstart/ (selection.txt, selection.csv, run.json, embeddings/)"

## Run the test suite.
test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

## The suite without the slow real-data checks.
test-fast: install
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)
