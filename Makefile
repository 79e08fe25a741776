# Two entry points for a fresh machine (see README): `make replay` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
START ?= 2018-01-02
END ?= 2020-12-31
JOURNAL ?= alvh-replay.sqlite

.PHONY: install replay test lint benchmark chaos clean

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
