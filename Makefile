# mlspan developer entry points. `make demo` and `make test` are the two set-up
# commands README.md gives; both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-stop test lint typecheck pytest semconv bench peer-bench fuzz-bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

demo-stop: $(STAMP)
	$(BIN)/python examples/demo.py --stop

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

semconv: $(STAMP)
	$(BIN)/python semantic_conventions/generate.py

bench: $(STAMP)
	$(BIN)/python bench/instrumentation_overhead.py

# scikit-learn's and pandas' own test modules, plain vs `pytest --mlspan` (30-60 minutes).
peer-bench: $(STAMP)
	$(BIN)/python bench/peer_suites.py $(PEER_ARGS)

# 100,000 hostile OTLP payloads and 5,000 query API requests against a real collector.
fuzz-bench: $(STAMP)
	$(BIN)/python bench/fuzz.py $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
