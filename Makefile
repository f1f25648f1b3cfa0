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

# The browser tests drive Debian's Chromium (Playwright cannot download browsers here).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "make test needs Debian's chromium for its browser tests: run 'sudo apt-get install chromium' once" >&2; \
		exit 1; \
	fi

# The JupyterHub tests run its proxy, configurable-http-proxy, from npm (Node.js is on the machine;
# Debian's npm otherwise).
CHP := $(VENV)/npm/node_modules/.bin/configurable-http-proxy
$(CHP): | $(BIN)/python
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; } \
		|| { echo "make test needs npm for configurable-http-proxy: run 'sudo apt-get install npm' once" >&2; exit 1; }
	npm install --prefix $(VENV)/npm --no-audit --no-fund --loglevel=error configurable-http-proxy@5

## make test: every test, including the browser and JupyterHub tests and the notebooks under nbval
test: $(STAMP) $(CHROMIUM) $(CHP)
	$(BIN)/python -m pytest tests notebooks --nbval -p no:cacheprovider

## make sandbox: only the sandbox, on port 8790
sandbox: $(STAMP)
	$(BIN)/connect-notebook sandbox

## make bench: the sandbox's page throughput
bench: $(STAMP)
	$(BIN)/python bench/sandbox_pages.py

clean:
	rm -rf $(VENV) .pytest_cache
