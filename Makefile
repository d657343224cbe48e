# gnnrec — one-command setup, run and test. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.gnnrec-installed

# Every process started from here runs with tf-keras (Keras 2), quiet TF logs, fixed hashing:
# the variables of gnnrec.env (their one home; conftest.py and the kernel read the same file).
include gnnrec.env
export $(shell sed -nE 's/^([A-Z_][A-Z0-9_]*)=.*/\1/p' gnnrec.env)

NOTEBOOKS := $(wildcard notebooks/[0-9][0-9]_*.ipynb)
LINTED    := gnnrec_utils tests tools benchmarks

.PHONY: help setup kernel data run quick test test-unit lint lab bench bench-long student report chromium notebooks \
        clean-notebooks check-notebooks clean distclean

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# pip, quiet: its notices about index locations this machine's pip configuration names but
# lacks ("Location … is ignored") are dropped; errors still show and still fail the step.
PIP       := $(BIN)/python -m pip --disable-pip-version-check --no-input
PIP_QUIET := 2>&1 | { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }

# Every package from the hashed lock (pip refuses anything unpinned or with another hash), then
# the project itself without dependencies. Regenerate the lock with the command in its header.
$(STAMP): pyproject.toml requirements-lock.txt tools/install_kernel.py gnnrec.env | $(BIN)/python
	@echo "Installing the locked packages into $(VENV) (first time: a few minutes) ..."
	@set -o pipefail; $(PIP) install --quiet --require-hashes -r requirements-lock.txt $(PIP_QUIET)
	@set -o pipefail; $(PIP) install --quiet --no-deps -e . $(PIP_QUIET)
	@$(BIN)/python tools/install_kernel.py
	@touch $@

setup: $(STAMP)  ## create .venv, install pinned packages, register the 'gnnrec' kernel

kernel: setup  ## (re)register the Jupyter kernel 'gnnrec'
	$(BIN)/python tools/install_kernel.py

data: setup  ## fetch and verify MovieLens-100K into data/ (cached)
	@$(BIN)/python -m gnnrec_utils.data

run: data  ## execute every notebook in order (full parameters) into outputs/ (logs: outputs/logs/)
	@$(BIN)/python tools/run_notebooks.py

quick: data  ## execute every notebook with QUICK=True into outputs/ (logs: outputs/logs/)
	@$(BIN)/python tools/run_notebooks.py --quick

lint: setup  ## ruff lint + format check, notebook hygiene
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/python tools/clean_notebook.py --check notebooks/*.ipynb

# `make test` runs pytest on JOBS workers (pytest-xdist; JOBS=0: one process). The course
# notebooks form one ordered group on one worker (conftest.py); notebook 01 first builds
# data/processed/ when it is missing, because the other worker's tests read it from the start.
JOBS ?= 2

test: data lint chromium  ## everything CI runs: lint, unit, data, notebook (papermill QUICK + nbval) tests; JOBS=2 workers
	@test -f data/processed/manifest.json || $(BIN)/python tools/run_notebooks.py --quick --only 01 --output-dir $(CURDIR)/outputs/test
	GNNREC_QUICK=1 GNNREC_PROGRESS=summary GNNREC_OUTPUT_DIR=$(CURDIR)/outputs/test $(BIN)/python -m pytest -m "not slow" --nbval-lax --nbval-kernel-name gnnrec \
		--nbval-cell-timeout 900 -n $(JOBS) --dist loadgroup $(NOTEBOOKS) tests

test-unit: setup  ## only the fast unit tests (seconds)
	$(BIN)/python -m pytest -m unit tests

# `make lab LAB_DIR=student` opens the student edition; as root (containers) JupyterLab needs
# --allow-root, added automatically.
LAB_DIR   ?= notebooks
LAB_ARGS  ?= $(if $(filter 0,$(shell id -u)),--allow-root)

lab: setup  ## start JupyterLab on the course notebooks (LAB_DIR=student for the student edition)
	@test -d "$(LAB_DIR)" || { echo "no folder '$(LAB_DIR)': for the student edition run 'make student' first"; exit 2; }
	$(BIN)/jupyter lab --notebook-dir=$(LAB_DIR) $(LAB_ARGS)

report: setup  ## build the HTML report of the executed notebooks into report/ (after `make run`)
	$(BIN)/python tools/build_report.py

chromium:  ## install Debian's chromium for the report's browser test (root/CI; silent when present)
	tools/ensure_chromium.sh

student: setup  ## write the student edition (solutions replaced by stubs) into student/
	$(BIN)/python tools/make_student.py --out student

bench: setup  ## benchmark the propagation kernels and training speed (docs/benchmarks.md, docs/recommenders.md)
	$(BIN)/python benchmarks/bench_propagation.py
	$(BIN)/python benchmarks/bench_training.py speed

bench-long: setup  ## quality over 3 seeds (~30 min) and scaling to 1e7 edges (~20 min), docs/recommenders.md
	$(BIN)/python benchmarks/bench_training.py quality
	$(BIN)/python benchmarks/bench_training.py scaling

notebooks: data  ## maintainers: re-execute notebooks in place with defaults and clean them
	$(BIN)/python tools/run_notebooks.py --inplace

clean-notebooks: setup  ## maintainers: normalise committed notebooks' metadata
	$(BIN)/python tools/clean_notebook.py notebooks/*.ipynb

clean:  ## remove run outputs and caches (keeps .venv and the data cache)
	rm -rf outputs report student .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

distclean: clean  ## also remove .venv and the downloaded data
	rm -rf $(VENV) data/raw data/ml-100k data/processed
