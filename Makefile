# gradmagic: `make lab` to explore, `make test` to check everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.gradmagic-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Saved outputs must not depend on the machine's speed: no progress bars in executed
# notebooks (a run crossing the bar's one-second delay on a busy machine would add output).
NOTEBOOK_ENV := GRADMAGIC_PROGRESS=off

.PHONY: lab test test-oldest lint format unit notebooks bench bytecode chromium binder-check clean

# The virtual environment, with gradmagic (editable) and everything tests and the lab need,
# at the versions in constraints.txt (the ones the notebooks' saved outputs come from).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,lab]"
	$(MAKE) bytecode
	touch $(STAMP)

# An editable install is not byte-compiled (a regular pip install is); without .pyc files
# every kernel compiles gradmagic from source, inside the first magic call.
bytecode:
	$(BIN)/python -m compileall -q gradmagic bench

# JupyterLab on 127.0.0.1 with a token (its default), serving notebooks/. Jupyter refuses
# to start as root (containers, cloud VMs) unless told --allow-root; only root gets it.
# LAB_ARGS adds options (tests: LAB_ARGS="--no-browser --port=8899"); the address and
# root directory come after it, so they stay as they are.
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
LAB_ARGS ?=
lab: $(STAMP)
	$(BIN)/jupyter lab $(LAB_ARGS) $(ALLOW_ROOT) --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks

# Debian's Chromium for the browser tests (Playwright cannot download its own here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Everything: lint, unit tests, nbval on notebooks/, the browser tests, the unit tests
# again with the oldest supported versions, and the Binder environment rebuilt from
# binder/ alone (nbval again, in that environment).
test: $(STAMP) chromium lint
	$(NOTEBOOK_ENV) $(BIN)/python -m pytest tests notebooks --nbval -q
	$(MAKE) test-oldest
	$(MAKE) binder-check

# The oldest supported versions (pyproject.toml's floors, pinned for Python 3.11 in
# constraints-oldest.txt) in a venv of their own, and the unit tests there. Left out:
# the browser tests and test_make_lab.py (`make lab` always runs .venv's JupyterLab).
VENV_OLDEST := .venv-oldest
PYTHON_OLDEST ?= $(PYTHON)
STAMP_OLDEST := $(VENV_OLDEST)/.gradmagic-installed
$(STAMP_OLDEST): pyproject.toml constraints-oldest.txt
	test -x $(VENV_OLDEST)/bin/python || $(PYTHON_OLDEST) -m venv $(VENV_OLDEST)
	$(VENV_OLDEST)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_OLDEST)/bin/python -m pip install --quiet -c constraints-oldest.txt -e ".[test]"
	touch $@

test-oldest: $(STAMP_OLDEST)
	$(VENV_OLDEST)/bin/python -m pytest tests -q -m "not browser and not make_lab"

unit: $(STAMP)
	$(BIN)/python -m pytest tests -q -m "not browser"

# The tutorials' sources are notebooks/NN-name.py (jupytext percent format), paired with
# NN-name.ipynb by notebooks/jupytext.toml. Sync each pair (the newer file wins; the .ipynb
# keeps its outputs), re-execute the notebooks and save their outputs (what nbval then
# compares), then drop widget state and widget views (random ids): tools/tidy_notebooks.py.
notebooks: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.py
	$(NOTEBOOK_ENV) $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.record_timing=False \
		--ExecutePreprocessor.store_widget_state=False notebooks/*.ipynb
	$(BIN)/python tools/tidy_notebooks.py

bench: $(STAMP) bytecode
	$(BIN)/python -m bench

# Binder's environment from binder/ alone: a copy of the working tree (as Binder clones it),
# a fresh venv with binder/requirements.txt, binder/postBuild run from the copy's root, then
# nbval on the notebooks with that venv. Downloads from PyPI; not part of `make test`.
BINDER_CHECK ?= /tmp/gradmagic-binder-check
binder-check:
	rm -rf $(BINDER_CHECK)
	mkdir -p $(BINDER_CHECK)/repo
	git ls-files -z --cached --others --exclude-standard \
		| tar --null --files-from=- --ignore-failed-read -cf - | tar -xf - -C $(BINDER_CHECK)/repo
	$(PYTHON) -m venv $(BINDER_CHECK)/venv
	cd $(BINDER_CHECK)/repo && $(BINDER_CHECK)/venv/bin/python -m pip install --quiet \
		-r binder/requirements.txt
	cd $(BINDER_CHECK)/repo && PATH="$(BINDER_CHECK)/venv/bin:$$PATH" ./binder/postBuild
	cd /tmp && $(BINDER_CHECK)/venv/bin/python -c \
		"import gradmagic; print('gradmagic from', gradmagic.__file__)"
	cd $(BINDER_CHECK)/repo && $(BINDER_CHECK)/venv/bin/python -m pip install --quiet \
		-c constraints.txt nbval pytest
	cd $(BINDER_CHECK)/repo && $(NOTEBOOK_ENV) $(BINDER_CHECK)/venv/bin/python -m pytest --nbval \
		--nbval-current-env notebooks -q

clean:
	rm -rf $(VENV) $(VENV_OLDEST) test-artifacts .pytest_cache .ruff_cache
