# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# The suite runs in 4 xdist workers on the 2 cores (most tests wait on loopback); `--dist load`
# hands the tests out one by one, the `long` ones first (tests/conftest.py).
# `make bench ARGS=--quick` for a short benchmark; bench/README.md says more.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# aioresponses cannot mock the newest aiohttp: its tests run apart on one it serves
OLD_VENV := .venv-aioresponses
OLD_STAMP := $(OLD_VENV)/.installed
AIORESPONSES_TESTS = $(shell grep -rl --include='test_*.py' '^from aioresponses import' tests)

.PHONY: install demo test test-aioresponses lint bench clean redis-server

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(OLD_STAMP): pyproject.toml
	$(PYTHON) -m venv $(OLD_VENV)
	$(OLD_VENV)/bin/python -m pip install --quiet -e '.[test-aioresponses]'
	touch $(OLD_STAMP)

install: $(STAMP)

demo: $(STAMP)
	scripts/demo.sh

# The Redis budget store is tested against a real redis-server on loopback (tests start it).
# Installed only where the machine allows it (root and apt); without it those tests are
# skipped with one line saying so, or fail under CI=true (tests/redis_server.py).
redis-server:
	@command -v redis-server >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) \
		|| echo "redis-server could not be installed: the Redis tests will say so"

# Bytecode is cached whatever PYTHONDONTWRITEBYTECODE says, and the tests are collected once
# first: otherwise each of the 4 workers, and every bulkops subprocess, compiles the same
# sources (and pytest rewrites the same asserts) again, a quarter of a fresh clone's suite.
# A collection error is reported by the run that follows.
test: $(STAMP) lint redis-server
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -q --co | tail -1
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -q -n 4 --dist load
	$(MAKE) --no-print-directory test-aioresponses

test-aioresponses: $(OLD_STAMP)
	$(OLD_VENV)/bin/python -m pytest -q -p no:cacheprovider $(AIORESPONSES_TESTS)

lint: $(STAMP)
	$(VENV)/bin/ruff check bulkops tests bench
	$(VENV)/bin/ruff format --check bulkops tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) bench/run.py $(ARGS)

clean:
	rm -rf $(VENV) $(OLD_VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
