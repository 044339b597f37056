# One entry point for developers and CI. Python: $(PYTHON) (3.10+).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
LS_VENV ?= $(HOME)/.cache/labelloop/ls-venv-1.23.2
# The real label-studio-ml 1.0.9 from PyPI, with labelloop: the tests check that a real
# installation is hosted, never shadowed by labelloop's stand-ins.
LSML_VENV ?= $(HOME)/.cache/labelloop/lsml-venv-1.0.9
# What label-studio-ml-backend's examples import (label-studio-sdk pulls pandas and opencv:
# kept out of the test venv), for their own tests run on labelloop.
EXAMPLES_VENV ?= $(HOME)/.cache/labelloop/examples-venv

.PHONY: venv demo test test-fast check lint typecheck bench ls-venv lsml-venv examples-venv redis-server chromium tesseract clean

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
## Two workers: the tests mostly wait on servers; the e2e tests stay on one (one Label Studio).
TEST_WORKERS ?= 2
test: venv ls-venv lsml-venv examples-venv redis-server chromium tesseract
	LABELLOOP_LS_VENV=$(LS_VENV) LABELLOOP_LSML_VENV=$(LSML_VENV) \
	  LABELLOOP_EXAMPLES_VENV=$(EXAMPLES_VENV) $(PY) -m pytest -n $(TEST_WORKERS)

test-fast: venv chromium
	$(PY) -m pytest -m "not e2e"

lint: venv
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/lint-imports  # the layers, and which modules may import redis or the web framework

typecheck: venv
	$(VENV)/bin/mypy

check: lint typecheck test

bench: venv ls-venv  # about an hour on two cores
	$(PY) bench/accuracy.py
	$(PY) bench/classifier_options.py
	$(PY) bench/serve.py
	$(PY) bench/compat_overhead.py
	$(PY) bench/metrics_cost.py
	$(PY) bench/stream.py
	$(PY) bench/active_learning.py --jobs 2
	$(PY) bench/ner.py
	$(PY) bench/rescore.py

## Label Studio 1.23.2 in its own virtualenv (it pins Django and friends).
ls-venv: $(LS_VENV)/.installed
$(LS_VENV)/.installed:
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install -q label-studio==1.23.2
	touch $@

## label-studio-ml 1.0.9 (its model.py imports redis and rq without declaring them) and
## this checkout of labelloop, editable, in a virtualenv of their own.
lsml-venv: $(LSML_VENV)/.installed
$(LSML_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(LSML_VENV)
	$(LSML_VENV)/bin/pip install -q label-studio-ml==1.0.9 redis rq
	$(LSML_VENV)/bin/pip install -q -e '.[examples]'
	touch $@

examples-venv: $(EXAMPLES_VENV)/.installed
$(EXAMPLES_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(EXAMPLES_VENV)
	$(EXAMPLES_VENV)/bin/pip install -q -e '.[examples,redis,sdk,wsgi]' pytest responses \
	  gunicorn openai pytesseract pillow httpx2
	touch $@

## Debian's Tesseract with Chinese, for the OCR example.
tesseract:
	@command -v tesseract >/dev/null && tesseract --list-langs 2>/dev/null | grep -q chi_sim || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q tesseract-ocr tesseract-ocr-chi-sim; \
	  else sudo apt-get update -q && sudo apt-get install -y -q tesseract-ocr tesseract-ocr-chi-sim; fi; }

## Debian's Chromium and chromedriver, for the status page's browser test.
chromium:
	@command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium chromium-driver; \
	  else sudo apt-get update -q && sudo apt-get install -y -q chromium chromium-driver; fi; }

## Debian's redis-server, for the Redis-mode tests.
redis-server:
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q redis-server; \
	  else sudo apt-get update -q && sudo apt-get install -y -q redis-server; fi; }

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache
