# Two entry points: `make demo` and `make test` (see README).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

.PHONY: setup demo test test-slow
setup: $(VENV)/.installed

demo: setup
	$(PY) demo.py --out result.mp4 --csv result.csv

test: setup
	$(PY) -m pytest

test-slow: setup
	$(PY) -m pytest -m slow
