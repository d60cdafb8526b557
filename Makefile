# The README's two commands are `make demo` and `make test`; both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# The node's build scripts; PULLPASS_SCRIPTS_DIR points at another checkout's while they are new.
SCRIPTS := $(or $(PULLPASS_SCRIPTS_DIR),scripts)

.PHONY: install control-plane node lint test unit demo

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

control-plane:
	scripts/control-plane

# A real node needs root: Debian's packages, then the pinned node binaries and the images (each
# instant when cached). Without root it says so and builds nothing: the node suite then fails
# saying it needs root, and `make demo` shows the control-plane result.
node: control-plane
	@if [ "$$(id -u)" = 0 ]; then \
	  $(SCRIPTS)/host-packages && $(SCRIPTS)/node && $(SCRIPTS)/images; \
	else \
	  echo "make node: not root, so no real node is built (tests/e2e_node needs root)"; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app

test: install node
	$(BIN)/pytest -p no:cacheprovider

unit: install
	$(BIN)/pytest -p no:cacheprovider tests/unit tests/http

demo: install node
	$(BIN)/python scripts/demo.py

