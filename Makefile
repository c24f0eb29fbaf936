# Napomni: the two README commands are `make demo` and `make test`; each sets up everything first.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the product and its tests need (see README, "What gets installed").
APT_PACKAGES := python3-venv python3-dev espeak-ng sox libsox-fmt-all ffmpeg \
	kamailio baresip-core sip-tester asterisk-core-sounds-ru-wav asterisk-core-sounds-ru \
	chromium fonts-dejavu-core tcpdump postgresql-client festival festvox-ru \
	kannel kannel-extras zbar-tools libnet-smpp-perl

# The local PostgreSQL server, when one answers, also runs every storage test.
PG_LOCAL := postgresql://postgres@127.0.0.1:5432/test
NAPOMNI_TEST_POSTGRES_URL ?= $(shell command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432 && echo $(PG_LOCAL))
export NAPOMNI_TEST_POSTGRES_URL

.PHONY: help setup apt demo test lint typecheck layers classifier-model pytest bench clean

help:
	@echo "make demo   — установить всё и запустить демонстрацию"
	@echo "make test   — установить всё и прогнать проверки и тесты"
	@echo "make bench  — замеры скорости (импорт, классификатор, речь, звонки)"

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "apt-get install:$$missing"; \
		$(SUDO) apt-get update -q; \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[test,pyvoip]'
	touch $@

setup: apt $(VENV)/.installed

classifier-model: setup
	@$(BIN)/napomni classifier check >/dev/null 2>&1 || $(BIN)/napomni classifier train

demo: setup classifier-model
	$(BIN)/napomni demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

layers: setup
	$(BIN)/lint-imports

pytest: setup classifier-model
	@if [ -z "$$NAPOMNI_TEST_POSTGRES_URL" ]; then echo "PostgreSQL: no server answers; PostgreSQL storage tests will be skipped"; \
		else echo "PostgreSQL storage tests at $$NAPOMNI_TEST_POSTGRES_URL"; fi
	@# Everything the tests start inherits NAPOMNI_TEST_RUN; tests.leftovers fails the run when
	@# any of it outlives pytest (and stops it).
	export NAPOMNI_TEST_RUN="run-$$$$-$$(date +%s%N)"; \
		tests=0; $(BIN)/pytest || tests=$$?; \
		left=0; $(BIN)/python -m tests.leftovers || left=$$?; \
		[ $$tests -eq 0 ] && [ $$left -eq 0 ]

test: lint typecheck layers pytest

bench: setup classifier-model
	$(BIN)/napomni bench all

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
