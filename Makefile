# Two entry points for a fresh machine: `make run` and `make test`.
# Installs are stamped, so a second run skips them.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.stamp-pip
NPM_STAMP := node_modules/.stamp-npm
SLITHER_VENV := .venv-slither
# Test workers: many tests wait on nodes and daemons, so two keep a 2-core machine busy.
# The slowest tests are listed at the end, to see where the suite's time goes.
PYTEST_WORKERS ?= 2
PYTEST := $(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder \
	--durations=20

.PHONY: run test deps browser lint pytest hardhat-test slither bench wheel clean

deps: $(PIP_STAMP) $(NPM_STAMP)

# The dashboard is tested in Debian's headless Chromium (never a downloaded browser).
browser:
	@test -x /usr/bin/chromium && test -x /usr/bin/chromedriver || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium chromium-driver >/dev/null; }

$(PIP_STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --progress-bar off -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" ; test $${PIPESTATUS[0]} -eq 0
	@touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The daemon on embedded defaults (chain, IPFS, simulated camera/arm/market) with short
# auctions; GAKA_* variables override any of it.
run: deps
	GAKA_AUCTION_DURATION_S=$${GAKA_AUCTION_DURATION_S:-120} \
	GAKA_AUCTION_TIME_BUFFER_S=$${GAKA_AUCTION_TIME_BUFFER_S:-15} \
	$(VENV)/bin/gaka robot run

lint: deps
	$(VENV)/bin/ruff check .
	bash scripts/slither.sh

slither: deps
	bash scripts/slither.sh

pytest: deps browser
	$(PYTEST)

hardhat-test: deps
	npx hardhat test

test: deps browser
	$(VENV)/bin/ruff check .
	bash scripts/slither.sh
	npx hardhat test
	$(PYTEST)

# A wheel that carries the contracts compiled (setup.py), installable without node or solc.
wheel: deps
	$(PY) -m pip wheel . --no-deps --no-build-isolation -w dist

bench: deps
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(SLITHER_VENV) node_modules artifacts cache build dist
