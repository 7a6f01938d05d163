# The README's first two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
BENCHSTAMP := $(VENV)/.installed-bench
ARGS   ?=

.PHONY: demo test bench lint install dev constraints clean fresh-install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $@

$(DEVSTAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# The benchmarks compare against baselines (ChannelAttribution, pandas) kassa itself does not need.
$(BENCHSTAMP): $(DEVSTAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
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
bench: $(BENCHSTAMP)
	$(BIN)/python -m bench $(ARGS)

lint: $(DEVSTAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src/kassa

## make fresh-install: a new venv, `pip install .` without constraints, then the demo on it
fresh-install:
	.ci/fresh-install --python $(PYTHON)

constraints: $(BENCHSTAMP)
	$(BIN)/python -m pip freeze --exclude-editable > constraints.txt

clean:
	rm -rf $(VENV) kassa-demo.duckdb kassa-demo.duckdb.* kassa-demo-csv/ reports/ .pytest_cache
