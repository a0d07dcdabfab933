# Two entry points, both self-installing into .venv: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

$(BIN)/ledger-mock: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

.PHONY: install serve test
install: $(BIN)/ledger-mock

serve: install
	$(BIN)/ledger-mock serve $(ARGS)

test: install
	$(BIN)/python -m pytest $(ARGS)
