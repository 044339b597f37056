# One entry point for developers and CI. Python: $(PYTHON) (3.10+).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
LS_VENV ?= $(HOME)/.cache/labelloop/ls-venv-1.23.2

.PHONY: venv demo test test-fast check lint typecheck bench ls-venv redis-server clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[examples,redis,dev]'
	touch $@

venv: $(VENV)/.installed

## The main job: backend + a Label Studio with a connected demo project.
demo: venv ls-venv
	$(VENV)/bin/labelloop demo --ls-venv $(LS_VENV)

## The whole test suite, installing what it needs first.
test: venv ls-venv redis-server
	LABELLOOP_LS_VENV=$(LS_VENV) $(PY) -m pytest

test-fast: venv
	$(PY) -m pytest -m "not e2e"

lint: venv
	$(VENV)/bin/ruff check src tests bench

typecheck: venv
	$(VENV)/bin/mypy

check: lint typecheck test

bench: venv
	$(PY) bench/serve.py
	$(PY) bench/accuracy.py

## Label Studio 1.23.2 in its own virtualenv (it pins Django and friends).
ls-venv: $(LS_VENV)/.installed
$(LS_VENV)/.installed:
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install -q label-studio==1.23.2
	touch $@

## Debian's redis-server, for the Redis-mode tests.
redis-server:
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q redis-server; \
	  else sudo apt-get update -q && sudo apt-get install -y -q redis-server; fi; }

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache
