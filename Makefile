# Two entry points, both self-installing into .venv: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

$(BIN)/ledger-mock: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m compileall -q mock_server contract_tests  # as pip does for a regular install
	touch $@

.PHONY: install serve test bench soak
install: $(BIN)/ledger-mock

serve: install
	$(BIN)/ledger-mock serve $(ARGS)

test: install
	$(BIN)/python -m pytest $(ARGS)

bench: install  # ledger-mock against Stoplight Prism, and scaling (installs wrk and Prism when missing)
	$(BIN)/python bench/bench.py $(ARGS)

soak: install  # ten minutes of mixed traffic; RSS minute by minute (README, Performance)
	$(BIN)/python bench/soak.py $(ARGS)
