# The two commands: `make demo` and `make test`. Both create the environment first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The venv's tools (jupyter, jupyter-builder, modelops) come first for every recipe.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export MPLBACKEND := Agg
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# System packages the tests use as real parts (installed only when missing, as root).
APT_PACKAGES := docker-registry skopeo umoci apache2-utils debootstrap cron chromium fonts-dejavu-core openssl

.PHONY: demo test env system-deps mlflow-server docs lint bench clean

demo: env
	$(PY) -m jupyter_modelops.demo

# make lint runs first: a lint, format or typing finding fails before the long test run.
test: env system-deps lint docs mlflow-server
	$(PY) -m pytest -q $(PYTEST_ARGS)
	$(PY) -m pytest -q -p no:cacheprovider --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg notebooks/

env: $(VENV)/.installed

# The editable install also builds the JupyterLab panel (labextension/, jlpm + jupyter-builder,
# packages from the npm registry pinned by labextension/yarn.lock); `develop` links it into the venv.
$(VENV)/.installed: pyproject.toml labextension/package.json labextension/yarn.lock $(wildcard labextension/src/*)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[dev]"
	$(VENV)/bin/jupyter labextension develop --overwrite . >/dev/null
	touch $@

# Installs the system packages the test suite drives for real. Needs root (CI runs as root).
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing system packages:$$missing (run make test as root, or install them)"; fi; \
	fi

# The documentation site (guide, tutorials from the example notebooks, API reference); warnings are errors.
docs: env
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

# The MLflow tracking server the tests start (the full mlflow package pins pyarrow<26, so it has its own venv;
# the project's venv has only the client, mlflow-skinny).
MLFLOW_VENV := bench/.venvs/mlflow-server
mlflow-server: $(MLFLOW_VENV)/bin/mlflow
$(MLFLOW_VENV)/bin/mlflow:
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/pip install -q "mlflow>=3.5,<4"

# Static checks, configured in pyproject.toml: ruff (lint, then the formatting check) and mypy over the core.
# Every check runs; the target fails if any failed.
lint: env
	@status=0; \
	$(VENV)/bin/ruff check jupyter_modelops tests bench || status=1; \
	$(VENV)/bin/ruff format --check jupyter_modelops tests bench || status=1; \
	$(PY) -m mypy || status=1; \
	(cd labextension && jlpm lint:check) || status=1; \
	exit $$status

bench: env
	$(PY) bench/run_all.py $(BENCH)

clean:
	rm -rf $(VENV) build dist docs/_build docs/tutorials docs/api.rst *.egg-info .pytest_cache jupyter_modelops/labextension labextension/lib labextension/node_modules labextension/tsconfig.tsbuildinfo
