# gradmagic: `make lab` to explore, `make test` to check everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.gradmagic-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: lab test lint format unit notebooks bench chromium binder-check clean

# The virtual environment, with gradmagic (editable) and everything tests and the lab need,
# at the versions in constraints.txt (the ones the notebooks' saved outputs come from).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,lab]"
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks

# Debian's Chromium for the browser tests (Playwright cannot download its own here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Everything: lint, unit tests, nbval on notebooks/, and the browser tests.
test: $(STAMP) chromium lint
	$(BIN)/python -m pytest tests notebooks --nbval -q

unit: $(STAMP)
	$(BIN)/python -m pytest tests -q -m "not browser"

# Re-execute the tutorials and save their outputs (what nbval then compares).
notebooks: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace notebooks/*.ipynb

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache .ruff_cache
