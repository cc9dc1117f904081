# SkyBerth: `make demo` sets up and runs the demo, `make test` sets up and runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo cluster serve test lint typecheck contracts jstest pytest browser setup lock clean

# Exact versions from requirements.lock (every package of the dev environment,
# pip and setuptools included), then SkyBerth itself without resolving anything.
$(STAMP): pyproject.toml requirements.lock web/frontend/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	cd web/frontend && npm ci --no-audit --no-fund --silent && npm run --silent vendor
	touch $(STAMP)

# The page tests drive Debian's Chromium (a browser download does not work offline);
# Noto CJK renders the Traditional Chinese pages (no web fonts: the pages stay offline).
browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@dpkg -s fonts-noto-cjk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk; }

setup: $(STAMP)

# The demo: server + simulated drones + live map on the demo site, offline.
demo: $(STAMP)
	$(BIN)/skyberth demo

# The scale-out of docs/bus.md on this machine: a fresh database on the local
# PostgreSQL, the local NATS (JetStream), 2 gateways, 2 web processes, the split
# simulator. Ctrl-C stops it all (and drops the database).
cluster: $(STAMP)
	$(BIN)/skyberth cluster

serve: $(STAMP)
	$(BIN)/skyberth serve

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

jstest: $(STAMP)
	cd web/frontend && npm test --silent

# Two workers, each taking whole test files (their servers are per module): the
# suite takes about 13 minutes instead of 20 on a 2-core machine. PYTEST_ARGS=
# runs it in one process; PYTEST_ARGS="-n 4 --dist loadfile" uses more cores.
PYTEST_ARGS ?= -n 2 --dist loadfile

pytest: $(STAMP) browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck contracts jstest pytest

# Refresh requirements.lock after changing dependencies in pyproject.toml (keeps
# every pin it can; add --upgrade to move to the newest allowed versions).
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --extra dev --extra postgres --extra nats \
		--strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
		--output-file requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
