# rtcflow: `make demo` runs the main job, `make test` runs the whole suite.
# Both create .venv and install everything they need on a fresh machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

WRTC   := tests/interop/wrtc/node_modules/.installed-stamp

.PHONY: demo test bench lint format schema clean interop

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

interop: $(WRTC)

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
	rm -rf $(VENV) .pytest_cache out bench-results
