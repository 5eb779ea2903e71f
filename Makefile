# Everything a newcomer needs starts from a bare Python: each target installs first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install test test-latest faults lint format demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

# migo as a user installs it: `pip install .` with no constraints (the newest aiohttp,
# pandas… that pyproject.toml allows) in a fresh .venv-latest, plus pytest; then the
# tests marked `latest` (tests/latest/), which run that environment's `migo`.
LATEST := .venv-latest
test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet . pytest pytest-asyncio
	@$(LATEST)/bin/python -c 'from importlib.metadata import version as v; \
	print("newest:", ", ".join(f"{p} {v(p)}" for p in ("aiohttp", "pandas", "numpy", "typer", \
	"rich", "diskcache", "python-calamine", "xlsxwriter")))'
	$(LATEST)/bin/python -m pytest -m latest tests/latest

faults: $(STAMP)
	$(BIN)/python -m pytest -m faults

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The second half: a small generated padrón (no download), then --fuente auto: the padrón
# answers for free, only what it lacks goes to the (simulated) API. Its own cache and padrón.
DEMO := .demo
demo: $(STAMP)
	$(BIN)/migo masivo examples/rucs.csv -o resultado.xlsx --simulado
	rm -rf $(DEMO)
	$(BIN)/python -m examples.padron_demo $(DEMO)/padron_reducido_ruc.zip
	MIGO_PADRON_DIR=$(DEMO)/padron $(BIN)/migo padron actualizar --desde $(DEMO)/padron_reducido_ruc.zip
	MIGO_PADRON_DIR=$(DEMO)/padron MIGO_CACHE_DIR=$(DEMO)/cache $(BIN)/migo masivo examples/rucs.csv \
		-o resultado-auto.xlsx --fuente auto --simulado

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .venv-latest build *.egg-info .pytest_cache .mypy_cache .ruff_cache $(DEMO)
