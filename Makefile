# rtcflow: `make demo` runs the main job, `make test` runs the whole suite.
# Both create .venv and install everything they need on a fresh machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

WRTC   := tests/interop/wrtc/node_modules/.installed-stamp
PYTRICKLE := .venv-pytrickle/.installed-stamp

.PHONY: demo test bench lint format schema clean interop chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU torch here; on a GPU machine install the CUDA build of torch 2.13.0 into
	# .venv first (see README): this step keeps an installed 2.13.0 build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(BIN)/rtcflow apply specs/show.yaml

# Independent peers for the interop tests: Google's libwebrtc through @roamhq/wrtc (npm).
$(WRTC): tests/interop/wrtc/package-lock.json
	npm ci --prefix tests/interop/wrtc --no-audit --no-fund
	touch $@

# pytrickle (Livepeer's Python trickle client) pins versions that clash with ours, so it
# gets its own environment; --no-deps keeps its CUDA torch out (the peer needs aiohttp only).
$(PYTRICKLE):
	$(PYTHON) -m venv .venv-pytrickle
	.venv-pytrickle/bin/pip install --quiet --no-deps pytrickle==0.1.6
	.venv-pytrickle/bin/pip install --quiet aiohttp
	touch $@

# Headless Chromium (Debian's package) plays the preview page in the browser test.
chromium:
	command -v chromium >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq chromium; }

interop: $(WRTC) $(PYTRICKLE) chromium

test: $(STAMP) interop
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks

lint: $(STAMP)
	$(BIN)/ruff format --check rtcflow tests examples
	$(BIN)/ruff check rtcflow tests examples

format: $(STAMP)
	$(BIN)/ruff format rtcflow tests examples
	$(BIN)/ruff check --fix rtcflow tests examples

schema: $(STAMP)
	$(BIN)/rtcflow schema > schemas/rtcflow.schema.json

clean:
	rm -rf $(VENV) .venv-pytrickle tests/interop/wrtc/node_modules .pytest_cache out bench-results
