# The README's two commands are `make demo` and `make test`; both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# CI runs the unit and HTTP suites on the oldest (PYTHON, 3.11) and the newest supported Python.
# The first python3.13 that runs: on PATH (a pyenv shim may not), else the newest pyenv 3.13.x.
# Override with PYTHON313=/path/to/python3.13.
ifeq ($(origin PYTHON313),undefined)
PYTHON313 := $(shell for p in "$$(command -v python3.13)" $$(ls -d "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/3.13*/bin/python3.13 2>/dev/null | sort -rV); do \
	[ -n "$$p" ] && "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && { echo "$$p"; break; }; done)
endif
VENV313 := .venv-3.13

.PHONY: install control-plane node tools lint chart-readme test unit unit-py313 demo mutation lock

install: $(VENV)/.installed

# Every install comes from the locks (scripts/lock), each file checked against its hash: pip and
# the build backend first, then the dev lock, then pullpass itself, built with that backend.
$(VENV)/.installed: pyproject.toml locks/build.txt locks/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r locks/build.txt
	$(BIN)/pip install --quiet --require-hashes -r locks/dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

control-plane:
	scripts/control-plane

# A real node needs root: Debian's packages, then the pinned node binaries and the images (each
# instant when cached). Without root it says so and builds nothing: the node suite then fails
# saying it needs root, and `make demo` shows the control-plane result.
node: control-plane
	@if [ "$$(id -u)" = 0 ]; then \
	  scripts/host-packages && scripts/node && scripts/images && scripts/credential-provider >/dev/null; \
	else \
	  echo "make node: not root, so no real node is built (tests/e2e/node needs root)"; \
	fi

# The packaging suite's pinned tools, built before the tests: promtool alone takes longer on a
# fresh machine than a test may; and lint's helm-docs; and the kubelet's credential provider
# plugin of secretless mode, which tests/web runs. Each script is instant when its build is cached.
tools:
	scripts/credential-provider >/dev/null
	scripts/helm >/dev/null
	scripts/helm-docs >/dev/null
	scripts/promtool >/dev/null
	scripts/tools >/dev/null
	scripts/crds >/dev/null

# The last step builds the pinned helm-docs on first use (Go: about 40 s of CPU with empty caches)
# and fails when the chart README is not what `make chart-readme` writes from values.yaml.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app
	scripts/chart-readme --check

# The chart README's values table, from the `# --` comment above each key of values.yaml.
chart-readme:
	scripts/chart-readme

test: install node tools unit-py313
	$(BIN)/pytest

unit: install
	$(BIN)/pytest tests/unit tests/web

unit-py313: $(VENV313)/.installed
	$(VENV313)/bin/pytest tests/unit tests/web

$(VENV313)/.installed: pyproject.toml locks/build.txt locks/dev-py313.txt
	@test -n "$(PYTHON313)" || { echo "make: python3.13 not found (not on PATH, not in pyenv); install it or set PYTHON313=/path/to/python3.13" >&2; exit 1; }
	@$(PYTHON313) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' || { echo "make: $(PYTHON313) is not Python 3.13" >&2; exit 1; }
	$(PYTHON313) -m venv $(VENV313)
	$(VENV313)/bin/pip install --quiet --require-hashes -r locks/build.txt
	$(VENV313)/bin/pip install --quiet --require-hashes -r locks/dev-py313.txt
	$(VENV313)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Not part of `make test`: pins every package again, with its hashes (see scripts/lock). Options
# for pip-compile go in LOCK_ARGS, e.g. LOCK_ARGS=--upgrade.
lock:
	@test -n "$(PYTHON313)" || { echo "make: python3.13 not found; set PYTHON313=/path/to/python3.13" >&2; exit 1; }
	PYTHON=$(PYTHON) PYTHON313=$(PYTHON313) scripts/lock $(LOCK_ARGS)

# Not part of `make test`: mutates the pure core ([tool.mutmut] in pyproject.toml) and runs the
# unit tests that reach each mutant; docs/testing.md has the scores and the survivors.
mutation: install
	rm -rf mutants
	PYTHONHASHSEED=0 $(BIN)/mutmut run --max-children 2
	$(BIN)/python scripts/mutation_score.py

demo: install node
	$(BIN)/python scripts/demo.py

