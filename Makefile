# Two commands do all the set-up on a fresh machine:
#   make reproduce   regenerate every registered figure and the claims report (results/)
#   make test        run the test suite (slow sweeps excluded)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
JOBS   ?= 2

.PHONY: lint test test-slow reproduce quick-reproduce bench docs-figures clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

reproduce: $(STAMP)
	$(PY) -m figures run --all --jobs $(JOBS)
	$(PY) -m figures report

quick-reproduce: $(STAMP)
	$(PY) -m figures run --all --quick --jobs $(JOBS)
	$(PY) -m figures report

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

# copy the PNGs of a default run into docs/figures/ (shown by the README)
docs-figures:
	mkdir -p docs/figures
	for f in results/*/*.png; do cp "$$f" docs/figures/; done

clean:
	rm -rf results .pytest_cache
