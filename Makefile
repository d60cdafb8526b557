# The README's two commands are `make demo` and `make test`; both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install control-plane lint test unit demo mutation

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

control-plane:
	scripts/control-plane

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app

test: install control-plane
	$(BIN)/pytest -p no:cacheprovider

unit: install
	$(BIN)/pytest -p no:cacheprovider tests/unit tests/http

# Not part of `make test`: mutates the pure core ([tool.mutmut] in pyproject.toml) and runs the
# unit tests that reach each mutant; docs/testing.md has the scores and the survivors.
mutation: install
	rm -rf mutants
	PYTHONHASHSEED=0 $(BIN)/mutmut run --max-children 2
	$(BIN)/python scripts/mutation_score.py

demo: install control-plane
	$(BIN)/python scripts/demo.py

