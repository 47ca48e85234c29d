# The two commands a newcomer needs: `make run` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kamlab-installed
DATA ?= data/sample
JOBS ?= 2
# A second numeric configuration for the notebooks: single-threaded BLAS and OpenMP.
SINGLE_THREAD := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# Keep Python's bytecode cache on even where the shell turns it off: without it every pytest
# worker re-parses and re-rewrites every test module and recompiles kamlab (about 10 s of the
# quick loop's CPU on 2 cores). The caches live in __pycache__ folders, ignored by git.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test test-fast test-spark lint nbval lab install sample clean constraints notebooks

install: $(STAMP)

# Reinstall whenever the declared or pinned dependencies change.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[notebooks,test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

# Runs every notebook on the sample into runs/sample/<as_of>/ (replacing an earlier run of
# the same data and date, which kamlab itself created).
run: $(STAMP)
	$(BIN)/kamlab run --data $(DATA) --jobs $(JOBS) --replace

# Everything CI checks: lint and types, the unit and real-data tests, the doctests and the
# committed notebooks under nbval (one session: the notebooks fill the workers' idle time),
# then nbval again under single-threaded BLAS/OpenMP.
test: $(STAMP) lint
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup --nbval tests kamlab notebooks
	$(SINGLE_THREAD) $(MAKE) --no-print-directory nbval

nbval: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile --nbval notebooks

# The quick loop while developing: no real-data tier, no slow tests, no notebooks (nor nbval's
# plugin, whose import alone takes seconds).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -p no:nbval -n $(JOBS) --dist loadgroup -m "not slow and not reference" -q tests kamlab

# The feature engine on Spark local mode (needs Java 17: apt-get install openjdk-17-jre-headless).
test-spark: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[notebooks,test,spark]"
	$(BIN)/python -m pytest -m spark -v tests

lint: $(STAMP)
	$(BIN)/ruff check kamlab tests benchmarks
	$(BIN)/ruff format --check kamlab tests benchmarks
	$(BIN)/mypy

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks

# Regenerate the committed sample (the command is also recorded in data/README.md).
sample: $(STAMP)
	$(BIN)/kamlab synth --accounts 300 --years 3 --seed 42 --out $(DATA)

# Refresh the pinned versions from the current environment.
constraints: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^kamlab' > constraints.txt

clean:
	rm -rf $(VENV) runs .pytest_cache

# Re-execute the committed notebooks in place (after a deliberate change of their outputs).
notebooks: $(STAMP)
	$(BIN)/python -m kamlab.runner $(NB)
