# faust-connect: every command installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run broker test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Start the embedded broker and a worker with the demo pipeline, web on :8083 if free (Ctrl-C stops both).
run: $(STAMP)
	$(PY) -m faust_connect.app.embedded demo

## Start only the embedded broker, on 127.0.0.1:9092 if free (for running `faust worker` yourself).
broker: $(STAMP)
	$(PY) -m faust_connect.app.embedded broker

## Headless Chromium (Debian's packages) for the dashboard's browser tests; CI runs as root.
/usr/bin/chromium:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver

## PostgreSQL and MariaDB (Debian's packages) for the SQL connectors' tests; private servers only.
/usr/sbin/mariadbd /usr/lib/postgresql:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql mariadb-server

## Install everything and run the whole test suite (what CI runs).
test: $(STAMP) /usr/bin/chromium /usr/sbin/mariadbd /usr/lib/postgresql
	$(PY) -m ruff check faust_connect tests bench
	$(PY) -m mypy
	$(PY) -m tests.jvm broker
	$(PY) -m tests.jvm connect
	$(PY) -m tests.jvm debezium
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check faust_connect tests bench
	$(PY) -m ruff format --check faust_connect tests bench
	$(PY) -m mypy
	$(PY) -m tests.import_cycles faust_connect

## Run every benchmark on real Kafka (started from jvm/pom.xml); prints a table, writes bench/results/.
bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .data
