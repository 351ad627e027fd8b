# make run   — create .venv, install, migrate, load the demo, serve on http://127.0.0.1:5000
# make test  — install what tests need and run the whole suite (browser tests when /usr/bin/chromium exists)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app challenges
HOST ?= 127.0.0.1
PORT ?= 5000
USWDS_VERSION ?= 3.14.0

.PHONY: run test lint format bench assets worker clean help

help:
	@echo "make run | make test | make lint | make bench | make worker | make assets | make clean"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed

# A development secret that survives restarts, so sessions and emailed links keep working.
.env:
	@$(PYTHON) -c "import secrets; print('SECRET_KEY=' + secrets.token_hex(32))" > .env
	@echo "Wrote .env with a development SECRET_KEY"

run: $(VENV)/.installed .env
	@mkdir -p instance
	$(FLASK) db upgrade
	$(FLASK) demo load
	@echo ""
	@echo "Serving on http://$(HOST):$(PORT)  (Ctrl+C to stop)"
	$(FLASK) run --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-test
	@for script in bench/*.py; do [ -e "$$script" ] && $(BIN)/python "$$script"; done; true

worker: $(VENV)/.installed .env
	$(FLASK) jobs worker

# Re-vendor the compiled USWDS files (needs npm; never run at install time).
assets:
	USWDS_VERSION=$(USWDS_VERSION) bash scripts/vendor-uswds.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
