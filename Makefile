# The commands people use. `make run` and `make test` work on a fresh machine
# with only Python 3.11+: they create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_PASSWORD ?= demo
PYTEST_ARGS ?=

.PHONY: install run test e2e fuzz lint format bench sandbox

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo --password $(DEMO_PASSWORD)
	@echo "Portal on http://127.0.0.1:8000/ (admin: /admin/, login demo / $(DEMO_PASSWORD)); Ctrl-C stops everything."
	$(BIN)/honcho start --procfile Procfile

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

e2e: install
	$(BIN)/pytest -m e2e $(PYTEST_ARGS)

# Schemathesis against the live API (gunicorn, sandboxes, demo data) on a free port.
fuzz: install
	bash .ci/fuzz

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

sandbox: install
	$(BIN)/python manage.py sandbox --port 8100

bench: install
	@for script in benchmarks/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done
