# Two entry points, both from a fresh Debian machine with Python 3.11:
#   make demo   set up, initialise a demo centre, run the server with emulated devices
#   make test   set up and run the whole test suite
#   make province-demo   a central server (PostgreSQL) and three sites with simulated days
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DATA ?= var/demo
PORT ?= 5000

.PHONY: venv demo province-demo test lint bench clean

$(BIN)/qms: pyproject.toml
	@# Debian ships venv separately (python3-venv); install it when we may, else say so
	$(PY) -m venv $(VENV) || { rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq python3-venv && $(PY) -m venv $(VENV); \
	  else echo "Install python3-venv first: sudo apt-get install python3-venv"; exit 1; fi; }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[kiosk,hardware,central,multi,dev]"
	touch $(BIN)/qms

venv: $(BIN)/qms

# the demo listens on every interface so phones on the LAN can follow their tickets: the
# banner prints the LAN address the QR codes point at (PUBLIC_URL=http://... to choose it,
# HOST=127.0.0.1 to keep it on this machine). Ctrl-C stops every process it started.
HOST ?= 0.0.0.0
demo: venv
	@$(BIN)/qms --data-dir $(DATA) demo --host $(HOST) --port $(PORT) \
	  $(if $(PUBLIC_URL),--public-url $(PUBLIC_URL))

province-demo: venv
	$(BIN)/qms province-demo --dir var/province

test: venv
	$(BIN)/ruff check .
	timeout -s KILL 2400 $(BIN)/python -m pytest -q -p no:cacheprovider

lint: venv
	$(BIN)/ruff check .

bench: venv
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) var .pytest_cache
