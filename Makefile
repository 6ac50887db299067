# safecampus: every target creates the virtualenv it needs; services are started by deploy/local/.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint services kafka postgres prism stop bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)  ## simulate a school day and run every pipeline on the embedded default
	$(BIN)/safecampus demo --out out

test: $(STAMP) services  ## unit tests, then integration tests against real Kafka, Prism and PostgreSQL
	$(BIN)/pip install -q --no-deps --force-reinstall . >/dev/null
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pip install -q --no-deps --force-reinstall . >/dev/null
	cd /tmp && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p safecampus

services:  ## Kafka (KRaft), PostgreSQL and the Prism runner, all on 127.0.0.1
	bash deploy/local/services.sh

kafka:
	bash deploy/local/kafka.sh

postgres:
	bash deploy/local/postgres.sh

prism:
	bash deploy/local/prism.sh

stop:
	bash deploy/local/stop.sh

bench: $(STAMP) services
	$(BIN)/python bench/bench_replay.py

clean:
	rm -rf $(VENV) out build *.egg-info
