# Two set-up commands (README): `make report` and `make test`. Both build .venv from nothing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install test lint prove report report-quick bench certify clean

install: $(STAMP)

# torch==2.13.0 first: it is the CPU build on local disk; the project's torch range is satisfied
# by it, so the second step never resolves a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[all]'
	touch $(STAMP)

lint: install
	$(VENV)/bin/ruff check .

test: install lint
	TRITON_INTERPRET=1 $(PY) -m pytest

prove: install
	$(VENV)/bin/mccc prove

report: install
	$(VENV)/bin/mccc report --out reports

report-quick: install
	$(VENV)/bin/mccc report --quick --out reports

bench: install
	$(VENV)/bin/mccc bench --json reports/bench.json

certify: install
	$(VENV)/bin/mccc certify

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
