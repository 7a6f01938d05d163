# The README's first two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
ARGS   ?=

.PHONY: demo test bench lint install dev constraints clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $@

$(DEVSTAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(STAMP)
dev: $(DEVSTAMP)

## make demo: build the venv, load the demo company, write the report, show the headline
demo: $(STAMP)
	$(BIN)/kassa demo $(ARGS)

## make test: the whole suite (pytest's exit code; "no tests collected" fails too)
test: $(DEVSTAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make bench: speed and memory against named baselines, printed as ratios
bench: $(DEVSTAMP)
	$(BIN)/python -m bench $(ARGS)

lint: $(DEVSTAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src/kassa

constraints: $(DEVSTAMP)
	$(BIN)/python -m pip freeze --exclude-editable > constraints.txt

clean:
	rm -rf $(VENV) kassa-demo.duckdb kassa-demo.duckdb.* kassa-demo-csv/ reports/ .pytest_cache
