# Quick start:  make run   (install, ingest the sample shop, serve on http://127.0.0.1:8080)
#               make test  (install, run the whole test suite, real models included)
VENV ?= .venv
SHOP ?= examples/sample-shop
BIN := $(VENV)/bin

.PHONY: install run ingest serve test test-fast bench clean

install:
	bash scripts/install.sh

ingest: install
	$(BIN)/shopqa ingest $(SHOP)

run: ingest
	$(BIN)/shopqa serve

test: install
	bash scripts/install-browser.sh
	bash scripts/install-engines.sh
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

bench: install
	$(BIN)/python bench/ingest.py

clean:
	rm -rf indexes/gen-* indexes/.tmp-* indexes/manifest.json indexes/.ingest.lock var
