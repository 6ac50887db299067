# safecampus: every target creates the virtualenv it needs; services are started by deploy/local/.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint services kafka postgres prism prometheus alertmanager stop bench chaos scale-out soak fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)  ## simulate a school day and run every pipeline on the embedded default
	$(BIN)/safecampus demo --out out

test: $(STAMP) services  ## unit tests, then integration tests against real Kafka, Prism and PostgreSQL
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

lint: $(STAMP)
	$(BIN)/ruff check .
	# mypy cannot follow setuptools' editable finder: give it the package as one tree of links.
	rm -rf build/typecheck && mkdir -p build/typecheck/safecampus
	ln -s $(CURDIR)/safecampus/* build/typecheck/safecampus/
	for d in schemas connectors pipelines dashboards; do ln -s $(CURDIR)/$$d build/typecheck/safecampus/$$d; done
	cd build/typecheck && MYPYPATH=. $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p safecampus

services:  ## Kafka (KRaft), PostgreSQL, Alertmanager, Prometheus and the Prism runner, all on 127.0.0.1
	bash deploy/local/services.sh

kafka:
	bash deploy/local/kafka.sh

postgres:
	bash deploy/local/postgres.sh

prism:
	bash deploy/local/prism.sh

prometheus:  ## Prometheus on 127.0.0.1:9090 with deploy/prometheus/rules, scraping the exporter on 9108
	bash deploy/local/prometheus.sh

alertmanager:  ## Alertmanager on 127.0.0.1:9193 with deploy/alertmanager/alertmanager.yml
	bash deploy/local/alertmanager.sh

stop:
	bash deploy/local/stop.sh

bench: $(STAMP) services
	$(BIN)/python bench/bench_replay.py

chaos: $(STAMP) services  ## 10 SIGKILLs, a broker and a PostgreSQL restart under load; counts lost and doubled
	$(BIN)/python bench/chaos.py

scale-out: $(STAMP) services  ## two instances share 4-partition topics; one SIGKILLed mid-stream; counts lost and doubled
	$(BIN)/python bench/scale_out.py

SOAK_INSTANCES ?= 2
soak: $(STAMP) services  ## 30 minutes at 2,000 events/s on the streaming runner (SOAK_INSTANCES processes); throughput, p99, RSS, lag as a PNG
	$(BIN)/python bench/soak.py --instances $(SOAK_INSTANCES)

FUZZ_RUNS ?= 1000000
FUZZ_MAX_SECONDS ?= 0
fuzz: $(STAMP)  ## coverage-guided fuzzing (atheris) of every decoder: FUZZ_RUNS inputs per target (at most FUZZ_MAX_SECONDS)
	FUZZ_RUNS=$(FUZZ_RUNS) $(BIN)/python fuzz/run.py --max-seconds $(FUZZ_MAX_SECONDS)

clean:
	rm -rf $(VENV) out build *.egg-info
