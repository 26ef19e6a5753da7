# lstmkit set-up. `make run` and `make test` work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A pinned CPU build of torch: an unpinned torch would pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: setup run test lint format bench docs clean

setup: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev]"
	# build lstmkit's C++ kernels now (cached), so the first training does not wait for it
	$(BIN)/python -c "from lstmkit.kernels import _ext; print('C++ kernels:', 'ready' if _ext.load() else f'unavailable ({_ext.error()}), using eager PyTorch')"
	touch $@

run: setup
	$(BIN)/lstmkit demo

test: setup
	$(BIN)/python -m pytest -q -n auto --dist loadgroup --no-loadscope-reorder

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: setup
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: setup
	$(BIN)/python benchmarks/speed.py --out bench_results/speed.json

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .ruff_cache

docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
