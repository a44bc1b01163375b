# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# The suite runs in 4 xdist workers on the 2 cores: most tests wait on subprocesses and loopback.
# `make bench ARGS=--quick` for a short benchmark; bench/README.md says more.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean redis-server

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	scripts/demo.sh

# The Redis budget store is tested against a real redis-server on loopback (tests start it).
redis-server:
	@command -v redis-server >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null)

test: $(STAMP) lint redis-server
	$(PY) -m pytest -q -n 4 --dist worksteal

lint: $(STAMP)
	$(VENV)/bin/ruff check bulkops tests bench
	$(VENV)/bin/ruff format --check bulkops tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) bench/run.py $(ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
