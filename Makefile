# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-fast install install-test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when the package definition changes. Our own modules are
# byte-compiled once: with PYTHONDONTWRITEBYTECODE set (as on CI) every `anc` start would
# compile them again.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m compileall -q agentic_neurodata_conversion
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/anc demo

# Two workers: the tests mostly wait on subprocesses (568 s serial, 251 s in 2; see pyproject).
test: install-test
	bash tests/setup_system.sh
	$(BIN)/python -m pytest -q -n 2

# The fast lane: everything but the tests marked slow (conversions, signal and kill loops).
test-fast: install-test
	bash tests/setup_system.sh
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

lint: install-test
	$(BIN)/ruff check agentic_neurodata_conversion tests bench
	$(BIN)/ruff format --check agentic_neurodata_conversion tests bench

bench: install-test
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV)
