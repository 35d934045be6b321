# The README's two commands: `make demo` and `make test`. Each creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install lock demo test lint clean bench

install: $(STAMP)

# torch first, from the CPU wheel on disk: it is not in the hashed lock (see requirements.lock's header).
$(STAMP): pyproject.toml requirements.lock requirements-nodeps.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# requirements.lock from requirements.txt, every file hashed (pip-tools in a throwaway venv; needs the registry).
lock:
	rm -rf build/piptools && $(PYTHON) -m venv build/piptools
	build/piptools/bin/pip install --quiet --disable-pip-version-check pip-tools
	cp requirements.lock requirements.lock.new  # pip-compile keeps the pins it finds there unless they must move
	build/piptools/bin/pip-compile --quiet --generate-hashes --strip-extras --unsafe-package torch --no-header \
		--no-emit-index-url --no-emit-find-links -o requirements.lock.new requirements.txt
	sed -n '1,/^$$/p' requirements.lock > requirements.lock.head
	cat requirements.lock.head requirements.lock.new > requirements.lock && rm requirements.lock.head requirements.lock.new

demo: install
	$(BIN)/shoptune demo --out runs/demo

test: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf runs build dist .pytest_cache
