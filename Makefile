# Hearth — make dev · make test · make serve · make bench · make lint
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
CONFIG ?= wrangler_compat.toml
SCRIPTS := scripts/bench scripts/chat scripts/create-admin scripts/dev-vars scripts/seed scripts/smoke
WORKERS ?= $(shell nproc 2>/dev/null || echo 1)

.PHONY: dev test serve bench lint install clean

install: $(STAMP)

# The venv is made and filled on first use, and again whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Hearth needs Python 3.11+ as '$(PYTHON)' (set PYTHON=...)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

dev: $(STAMP) .dev.vars
	$(PY) -m bindings dev --config $(CONFIG)

# Secrets: .dev.vars from .dev.vars.example, empty values made random; names the example
# gained later are appended (existing values are kept).
.dev.vars: .dev.vars.example
	@$(PYTHON) scripts/dev-vars

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

serve: $(STAMP) .dev.vars
	$(PY) -m bindings serve --config $(CONFIG) --workers $(WORKERS)

bench: $(STAMP)
	$(PY) scripts/bench $(BENCH_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy bindings workers scripts
	@for f in $(SCRIPTS); do MYPYPATH=scripts $(PY) -m mypy --no-error-summary $$f || exit 1; done

clean:
	rm -rf $(VENV) .hearth .mypy_cache .ruff_cache .pytest_cache
