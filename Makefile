# Healthcare analytics warehouse: one command to build it, one to test it.
#   make run    venv, dependencies, dbt packages, embedded PostgreSQL, synthetic data of every
#               source, loads of two treatment export cycles (plus the ADT feed and department
#               extracts) with a dbt build (and snapshots) after each, dbt docs, the DQ report
#   make test   everything CI runs: ruff, pytest (incl. an end-to-end dbt build from an empty
#               database on generated data) and sqlfluff lint
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DBT := $(VENV)/bin/dbt
DATA ?= data/treatments
ADMISSIONS ?= data/admissions
CLINICAL ?= data/clinical
LANDING ?= data/landing
TREATMENTS ?= 20000
DAYS ?= 60
SEED ?= 42

.PHONY: run test venv deps db-start db-stop db-status generate load build docs lint reset clean \
	watch replay dq-report backup restore bench

run: deps db-start generate
	$(PY) -m loaders load $(DATA)/cycle-1
	$(PY) -m loaders load $(ADMISSIONS)/landing
	$(PY) -m loaders load $(CLINICAL)/landing
	$(DBT) build
	$(PY) -m loaders load $(DATA)/cycle-2
	$(DBT) build
	$(DBT) docs generate
	$(PY) -m loaders summary
	$(PY) -m loaders dq-report
	@echo
	@echo "Lineage and docs: source $(VENV)/bin/activate && dbt docs serve --port 8080"
	@echo "then open http://localhost:8080 (the graph icon shows source -> bronze -> silver -> gold)."

test: deps db-start
	$(VENV)/bin/ruff check loaders tests/python
	$(VENV)/bin/pytest
	$(MAKE) lint

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[dev]"
	touch $@

deps: dbt_packages/.installed

dbt_packages/.installed: packages.yml $(VENV)/.installed
	$(PY) -m loaders deps
	touch $@

db-start: venv
	$(PY) -m loaders server start

db-stop: venv
	$(PY) -m loaders server stop

db-status: venv
	$(PY) -m loaders server status

generate: venv
	$(PY) -m loaders generate --out $(DATA) --treatments $(TREATMENTS) --seed $(SEED)
	$(PY) -m loaders generate-admissions --out $(ADMISSIONS) --days $(DAYS) \
		--treatments $(TREATMENTS) --seed $(SEED)
	$(PY) -m loaders generate-clinical --out $(CLINICAL) --treatments $(TREATMENTS) --seed $(SEED)

load: venv
	$(PY) -m loaders load $(DATA)
	$(PY) -m loaders load $(ADMISSIONS)/landing
	$(PY) -m loaders load $(CLINICAL)/landing

# The real-time path: `make watch` in one terminal, `make replay` in another.
watch: deps db-start
	mkdir -p $(LANDING)
	$(PY) -m loaders watch $(LANDING)

replay: venv
	$(PY) -m loaders replay $(ADMISSIONS)/landing $(LANDING)

dq-report: venv
	$(PY) -m loaders dq-report

build: deps
	$(DBT) build

docs: deps
	$(DBT) docs generate

lint: deps
	$(VENV)/bin/sqlfluff lint models snapshots tests analyses

reset: venv
	$(PY) -m loaders reset

# The performance benchmark (README, "Benchmark"): generates every source at BENCH_TREATMENTS
# (and a tenth of it) into data/bench once, measures on scratch databases and writes JSON and
# markdown figures into results/. About 40 minutes at 1,000,000 treatments on 2 cores.
BENCH_TREATMENTS ?= 1000000
bench: deps db-start
	$(VENV)/bin/pip install --quiet -e ".[bench]"
	$(PY) -m loaders bench --treatments $(BENCH_TREATMENTS)

# A pg_dump archive of the project's schemas into backups/ (git-ignored), and its restore:
# `make restore FILE=backups/warehouse-....dump` (add FORCE=1 to replace existing schemas,
# DATABASE=name to restore into another database).
backup: venv
	$(PY) -m loaders backup

restore: venv
	@test -n "$(FILE)" || { echo "usage: make restore FILE=backups/<name>.dump [FORCE=1] [DATABASE=name]"; exit 2; }
	$(PY) -m loaders restore "$(FILE)" $(if $(DATABASE),--database "$(DATABASE)") $(if $(FORCE),--force)

clean:
	$(DBT) clean
	rm -rf $(DATA) $(ADMISSIONS) $(CLINICAL) $(LANDING)
