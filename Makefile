# Two entry points for a fresh machine (see README): `make replay` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
START ?= 2018-01-02
END ?= 2020-12-31
JOURNAL ?= alvh-replay.sqlite

.PHONY: install replay test lint benchmark chaos clean docs fuzz

$(BIN)/alvh: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(BIN)/alvh

install: $(BIN)/alvh

replay: install
	$(BIN)/alvh replay --start $(START) --end $(END) --journal $(JOURNAL)

test: install lint
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

benchmark: install
	$(BIN)/python benchmarks/replay_benchmark.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

chaos: install
	$(BIN)/python scripts/chaos.py

# The generated references (docs/config-reference.md, docs/cli.md); run after
# adding or changing a config key or a command-line flag (tests/daemon/test_docs.py).
docs: install
	$(BIN)/python scripts/config_reference.py
	$(BIN)/python scripts/cli_reference.py

# The full fuzz campaign (>= 1,500 cases; tests/test_fuzz_quick.py runs a sample).
fuzz: install
	$(BIN)/python scripts/fuzz.py
