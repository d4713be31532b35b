# Customer Pulse — every target sets up what it needs, so a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run demo demo-stop test test-fast kafka kafka-stop postgres postgres-stop contract bench bench-tools clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: install
	$(BIN)/pulse run

# Starts the embedded stack in the background when nothing answers on :8001, fills it, leaves it running.
demo: install
	$(BIN)/pulse demo --start

demo-stop:
	@if [ -f data/embedded.pid ]; then kill $$(cat data/embedded.pid) && rm data/embedded.pid && echo "stopped the demo's embedded stack"; \
	else echo "no stack started by make demo (data/embedded.pid is missing)"; fi

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not kafka and not postgres and not slow"

kafka: install
	deploy/kafka/kafka.sh start

kafka-stop:
	deploy/kafka/kafka.sh stop

postgres: install
	deploy/postgres/postgres.sh start

postgres-stop:
	deploy/postgres/postgres.sh stop

# Load generators the benchmarks use, built with Go into the project's cache folder (outside the clone).
TOOLS := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/customer-pulse/bin
VEGETA_VERSION := v12.13.0

bench-tools: install $(TOOLS)/vegeta

$(TOOLS)/vegeta:
	GOBIN=$(TOOLS) go install github.com/tsenart/vegeta/v12@$(VEGETA_VERSION)

contract: install
	$(BIN)/pulse contract write

clean:
	rm -rf $(VENV) data .pytest_cache
