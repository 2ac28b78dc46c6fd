# Set-up (README): `make install`, then `source .venv/bin/activate` puts `mccc` on PATH.
# `make test` and `make report` build .venv from nothing too.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install browser test lint prove report report-quick example-report bench certify clean

install: $(STAMP)

# torch==2.13.0 first: it is the CPU build on local disk; the project's torch range is satisfied
# by it, so the second step never resolves a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[all]'
	touch $(STAMP)

# System packages a test needs: headless Chromium (the report's browser test and `--pdf`),
# from Debian when it is missing (CI runs as root; elsewhere through sudo).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

lint: install
	$(VENV)/bin/ruff check .

test: install browser lint
	TRITON_INTERPRET=1 $(PY) -m pytest

prove: install
	$(VENV)/bin/mccc prove

# The report goes to build/report/ (untracked). The committed example reports/mccc-report.html
# is regenerated on purpose with `make example-report`.
report: install browser
	$(VENV)/bin/mccc report --pdf

report-quick: install
	$(VENV)/bin/mccc report --quick

example-report: install
	$(VENV)/bin/mccc report --full --out reports

bench: install
	$(VENV)/bin/mccc bench --json reports/bench.json

certify: install
	$(VENV)/bin/mccc certify

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
