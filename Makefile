# The two commands of the README: `make lab` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test sandbox bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## make lab: start the sandbox and JupyterLab on notebooks/ (Ctrl-C stops both)
lab: $(STAMP)
	$(BIN)/connect-notebook lab

## make test: every test, including the notebooks under nbval
test: $(STAMP)
	$(BIN)/python -m pytest tests notebooks --nbval -p no:cacheprovider

## make sandbox: only the sandbox, on port 8790
sandbox: $(STAMP)
	$(BIN)/connect-notebook sandbox

## make bench: the sandbox's page throughput
bench: $(STAMP)
	$(BIN)/python bench/sandbox_pages.py

clean:
	rm -rf $(VENV) .pytest_cache
