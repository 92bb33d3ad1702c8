# The two commands of the README: `make reproduce` and `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.nagkit-installed
PROFILE ?= quick
FMNIST  := /usr/share/datasets/fashion-mnist

# Small models on a 2-core CPU run fastest (and reproducibly) on one BLAS/OpenMP thread.
export OMP_NUM_THREADS ?= 1

.PHONY: reproduce test test-fast test-notebooks check-fresh env data clean-results lab
NBVAL   := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg

env: $(STAMP)

# Create the virtual environment if missing and install nagkit with its pinned dependencies.
# torch==2.14.1 / torchvision==0.29.1 install from this machine's disk (pinned in pyproject.toml).
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[notebooks,test,ray]'
	touch $(STAMP)

# Offline real-image data of notebook 06: Debian's dataset-fashion-mnist (installed when missing and apt is usable).
data:
	@scripts/install_fashion_mnist.sh

# Execute every notebook in order with papermill (offline), then assemble results/REPORT.md.
reproduce: $(STAMP) data
	$(PY) -m nagkit.notebooks --profile $(PROFILE)

# Unit tests and nbval over the notebooks (one pytest run: one closing line).
test: $(STAMP) data
	$(PY) -m pytest tests notebooks $(NBVAL)

# The unit tests alone (a few minutes).
test-fast: $(STAMP)
	$(PY) -m pytest tests

# nbval alone: re-executes every notebook, compares its CPU-independent outputs and runs its regression checks.
test-notebooks: $(STAMP) data
	$(PY) -m pytest notebooks $(NBVAL)

# `make test` in fresh clones with cold caches, under 1 and 2 threads and an emulated other CPU (see the script).
check-fresh:
	scripts/check_fresh.sh

# JupyterLab on notebooks/ with the venv's kernel; extra options via LAB_ARGS, e.g. LAB_ARGS="--no-browser --port 8899".
lab: $(STAMP)
	$(PY) -m jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

clean-results:
	rm -rf results/*.json figures/*.png results/REPORT.md
