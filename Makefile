# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint audit lock bench clean system-deps

# Chromium and npm from Debian, for the browser tests; installed when missing.
system-deps:
	scripts/test-deps

# axe-core, for the browser tests' accessibility checks (htmx ships vendored in the package).
node_modules/.installed: package.json package-lock.json | system-deps
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Installs exactly the versions in requirements.lock (write it again with `make lock`).
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV) || { echo "error: cannot create $(VENV): run 'sudo apt-get install python3-venv'" >&2; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# Resolve pyproject.toml's bounds afresh in a scratch venv and pin the result.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --upgrade pip
	.venv-lock/bin/pip install --quiet '.[dev,bench]'
	{ echo "# Every package make installs, pinned: 'make lock' writes it from pyproject.toml."; \
	  .venv-lock/bin/pip freeze --exclude accord; } > requirements.lock
	rm -rf .venv-lock

# Known vulnerabilities with a fix available in the locked versions (pip-audit).
audit: $(STAMP)
	$(BIN)/python scripts/audit-deps requirements.lock

run: $(STAMP)
	$(BIN)/accord demo --if-empty
	$(BIN)/accord serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: system-deps lint audit node_modules/.installed
	$(BIN)/pytest -n 2 --dist loadgroup --durations=10

# The benchmarks' peers (faiss, python-threatexchange, Presidio) come from the bench extra.
bench: $(STAMP)
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev,bench]'
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/validation.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/taxii.py
	$(BIN)/python bench/federation.py
	$(BIN)/python bench/coordinate.py
	$(BIN)/python bench/match.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/hashlists.py --sizes 1000000
	$(BIN)/python bench/privacy.py
	$(BIN)/python bench/misp.py

clean:
	rm -rf $(VENV) .venv-lock var node_modules .pytest_cache .mypy_cache .ruff_cache
