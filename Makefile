# The two commands of the README: `make reproduce` and `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.nagkit-installed
PROFILE ?= quick

.PHONY: reproduce test env clean-results

env: $(STAMP)

# Create the virtual environment if missing and install nagkit with its pinned dependencies.
# torch==2.14.1 / torchvision==0.29.1 install from this machine's disk (pinned in pyproject.toml).
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[notebooks,test]'
	touch $(STAMP)

# Execute every notebook in order with papermill (offline), then assemble results/REPORT.md.
reproduce: $(STAMP)
	$(PY) -m nagkit.notebooks --profile $(PROFILE)

# Unit tests and nbval over the notebooks.
test: $(STAMP)
	$(PY) -m pytest

clean-results:
	rm -rf results/*.json figures/*.png results/REPORT.md
