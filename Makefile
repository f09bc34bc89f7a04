# Two entry points that work on a fresh machine: `make test` and `make demo`.
# Each creates .venv if it is missing and installs the package into it.
# TORCH_SPEC picks the torch build: where a local CPU wheel of torch 2.13.0 is available (as on the
# project's CI machines) it is used; elsewhere plain `torch` from your index. Override freely:
#   make test TORCH_SPEC="torch==2.5.1"
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LOCAL_TORCH := $(wildcard /opt/wheels/torch-2.13.0*.whl)
TORCH_SPEC ?= $(if $(LOCAL_TORCH),torch==2.13.0,torch)
PYTEST_ARGS ?=
OUTPUT ?= demo-output

.PHONY: test demo install clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

test: $(VENV)/.installed
	$(PY) -m pytest -q $(PYTEST_ARGS)

demo: $(VENV)/.installed
	$(VENV)/bin/labram demo --output "$(OUTPUT)"

clean:
	rm -rf $(VENV) build *.egg-info
