# The two commands a newcomer needs: `make run` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kamlab-installed
DATA ?= data/sample
OUT ?= runs/sample

.PHONY: run test lab install sample clean constraints notebooks

install: $(STAMP)

# Reinstall whenever the declared or pinned dependencies change.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,scale]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/kamlab run --data $(DATA) --out $(OUT)

test: $(STAMP)
	$(BIN)/python -m pytest --nbval

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
