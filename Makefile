# The README's first two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
BENCHSTAMP := $(VENV)/.installed-bench
ARGS   ?=

.PHONY: demo test test-fast bench lint install dev constraints clean fresh-install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $@

# The tests run on DuckDB and Spark (tests/engines): the spark extra is part of the dev install.
$(DEVSTAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark]'
	touch $@

# The benchmarks compare against baselines (ChannelAttribution, pandas) kassa itself does not need.
$(BENCHSTAMP): $(DEVSTAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark,bench]'
	touch $@

install: $(STAMP)
dev: $(DEVSTAMP)

## make demo: build the venv, load the demo company, write the report, show the headline
demo: $(STAMP)
	$(BIN)/kassa demo $(ARGS)

# One worker per core; a test file stays on one worker (its module fixtures are built once, its tests keep
# their order).
XDIST := -n auto --dist loadfile

## make test: the whole suite (pytest's exit code; "no tests collected" fails too), the 15 slowest listed
test: $(DEVSTAMP)
	$(BIN)/python -m pytest $(XDIST) --durations=15 $(PYTEST_ARGS)

## make test-fast: the everyday loop, without the slow and browser tests (the demo company, Chromium)
test-fast: $(DEVSTAMP)
	$(BIN)/python -m pytest $(XDIST) -m "not slow and not browser" $(PYTEST_ARGS)

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
