# btr: `make demo` runs the main job, `make test` runs ruff and the whole test suite.
# Both create .venv (and the other environments they need) on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LS_VENV := .venv-ls
LS_STAMP := $(LS_VENV)/.installed
LABEL_STUDIO_VERSION := 1.23.2
OUT    := build/demo

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: help venv ls-venv chromium demo model test lint format bench bench-ab annotate datasheet clean

help:
	@echo "make demo      set up .venv, validate the corpus, train and evaluate a model under build/demo,"
	@echo "               tag sample news and write the gaps report"
	@echo "make model     rebuild the shipped models/default (train, 5-fold CV, held-out news; card updated)"
	@echo "make test      set up everything, run ruff and the whole pytest suite"
	@echo "make annotate  start a local Label Studio with the corpus pushed (Ctrl-C stops it)"
	@echo "make bench     run the benchmarks (timings, printed as ratios)"
	@echo "make bench-ab  btr tag speed at REF=<commit> beside this tree, alternated"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned exactly: any other spec downloads GBs of CUDA wheels.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[all]'
	touch $@

venv: $(STAMP)

# Label Studio lives in its own environment: it pins Django, pyarrow and numpy versions.
$(LS_STAMP):
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install -q --upgrade pip
	$(LS_VENV)/bin/pip install -q label-studio==$(LABEL_STUDIO_VERSION)
	touch $@

ls-venv: $(LS_STAMP)

chromium:
	@{ command -v chromium >/dev/null 2>&1 && dpkg -s fonts-noto-cjk >/dev/null 2>&1; } || { \
	  echo "installing Debian's chromium and CJK fonts for the report test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
	  || { echo "could not install chromium (needs root and Debian's package lists)"; exit 1; }; }

demo: $(STAMP)
	$(BIN)/btr corpus validate
	$(BIN)/btr corpus stats
	$(BIN)/python -m btr.demo --out $(OUT)

# The shipped model changes only here, never as a side effect of the demo.
model: $(STAMP)
	$(BIN)/btr train --out models/default --quiet
	$(BIN)/btr evaluate --model models/default --cv 5 --quiet
	$(BIN)/btr evaluate --model models/default --news

test: $(STAMP) $(LS_STAMP) chromium
	$(BIN)/ruff check btr tests $(wildcard benchmarks/*.py)
	$(BIN)/ruff format --check btr tests $(wildcard benchmarks/*.py)
	$(BIN)/python -m pytest -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check btr tests $(wildcard benchmarks/*.py)
	$(BIN)/ruff format --check btr tests $(wildcard benchmarks/*.py)

format: $(STAMP)
	$(BIN)/ruff format btr tests benchmarks
	$(BIN)/ruff check --fix btr tests benchmarks

bench: $(STAMP) $(LS_STAMP)
	$(BIN)/python benchmarks/bench_tag.py
	$(BIN)/python benchmarks/bench_labelstudio.py

# btr tag at REF and in this tree, alternated on one core: make bench-ab REF=<commit> [ROUNDS=3]
bench-ab: $(STAMP)
	benchmarks/ab_tag.sh $(or $(REF),HEAD) $(or $(ROUNDS),3)

annotate: $(STAMP) $(LS_STAMP)
	$(BIN)/btr annotate serve

clean:
	rm -rf build .pytest_cache

datasheet: $(STAMP)
	$(BIN)/python -m btr.datasheet corpus/DATASHEET.md
