# Developer entry points. `make test` is what CI runs (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch is installed first so that the unpinned `torch>=2.2`
# requirement of the package does not pull a multi-GB CUDA build.
TORCH_CPU ?= torch==2.13.0

.PHONY: test lint format venv bench-venv peers-venv demo bench-attention bench-sampling bench-threads bench-tuning bench-scale bench-training bench-m4 bench-etth1 bench-peers bench-volume bench-seeds docs docs-figures clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_CPU)

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

# the docs tools (mkdocs-material, mkdocstrings) and what the examples need,
# added to the same .venv
$(VENV)/.docs-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e ".[docs]"
	touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/python -m pytest -q

# the fan chart goes to $(DEMO_OUT)/fan_chart.png (git-ignored)
DEMO_OUT ?= demo-output
demo: venv
	$(BIN)/python -m sktime_logsparse.demo --out "$(DEMO_OUT)"

bench-attention: venv
	$(BIN)/python benchmarks/attention.py

# cached sampler vs re-encoding, and predict on all 414 M4 Hourly series;
# writes the page of record
bench-sampling: venv
	$(BIN)/python benchmarks/sampling.py --markdown docs/benchmarks/sampling.md

# n_threads settings, quiet and beside two busy processes: single-series
# predict at context 2,048, fit and predict of 100 M4 Hourly series; writes
# the page of record (run it on an otherwise idle machine)
bench-threads: venv
	$(BIN)/python benchmarks/threads.py --markdown docs/benchmarks/threads.md

# parallel grid search: backend=None against loky and a dask cluster (dask
# comes with the dev extras) on 20 M4 Hourly series, and two processes
# predicting at once; writes benchmarks/results/tuning.json (a few minutes)
bench-tuning: venv
	$(BIN)/python benchmarks/tuning.py

# large panels: 1,000 to 100,000 synthetic series of 1,000 points, time per
# epoch and peak memory of fit and predict (about an hour on 2 cores, most of
# it the 100,000-series predict); writes the page of record with the tables
# of bench-tuning
bench-scale: bench-venv
	$(BIN)/python benchmarks/scale.py --markdown docs/benchmarks/scale.md

# the benchmark scripts' extras (official M4 table, markdown tables, figures)
$(VENV)/.bench-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e ".[bench]"
	touch $@

bench-venv: venv $(VENV)/.bench-installed

# training throughput of the network, logsparse vs full attention
bench-training: venv
	$(BIN)/python benchmarks/training.py --markdown docs/benchmarks/training.md

# the M4 Hourly protocol against sktime baselines (about 30 minutes on 2 cores)
bench-m4: bench-venv
	$(BIN)/python benchmarks/m4_hourly.py --markdown docs/benchmarks/m4_hourly.md \
		--figure docs/images/m4_hourly_fan_chart.png

# ETTh1, Informer's univariate protocol, as recorded: one thread (about 6 minutes)
bench-etth1: bench-venv
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/etth1.py --markdown docs/benchmarks/etth1.md

# the peers of bench-peers (statsforecast, neuralforecast, pytorch-forecasting
# and an sktime that works with them) in a venv of their own: their pins
# conflict with this package's (about 2 GB, a few minutes to build)
PEERS_VENV := .venv-peers
$(PEERS_VENV)/.installed: benchmarks/peers/requirements.txt
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install -q $(TORCH_CPU)
	$(PEERS_VENV)/bin/python -m pip install -q -r benchmarks/peers/requirements.txt
	touch $@

peers-venv: $(PEERS_VENV)/.installed

# the peers beside the LogSparse Transformer on M4 Hourly, one run on one
# machine (hours on 2 cores, most of it neuralforecast's DeepAR); writes the
# page of record. PEERS_ARGS adds options, for instance
# PEERS_ARGS="--ours-from benchmarks/results/m4_hourly.json" to take our row
# from the results of record instead of training again
PEERS_ARGS ?=
bench-peers: bench-venv peers-venv
	$(BIN)/python benchmarks/peers.py --markdown docs/benchmarks/peers.md \
		--figure docs/images/benchmarks/peers.png $(PEERS_ARGS)

# where M4's pooled R0.5 comes from, ours against MSTL series by series, on
# the validation split (fits the configuration of record once: about 15
# minutes on 2 cores); VOLUME_ARGS adds options, e.g. --model DIR ... to read
# saved fits instead
VOLUME_ARGS ?=
bench-volume: bench-venv peers-venv
	$(BIN)/python benchmarks/m4_volume.py --markdown docs/benchmarks/m4_volume.md \
		$(VOLUME_ARGS)

# the M4 and ETTh1 runs of record rerun with other seeds (SEEDS), and the
# page of their spread (about 15 + 5 minutes per seed on 2 cores)
SEEDS ?= 1 2
bench-seeds: bench-venv
	$(BIN)/python benchmarks/seeds.py --run $(SEEDS) --markdown docs/benchmarks/seeds.md

# the documentation site, into site/ (CI runs this after `make test`)
docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# rerun every docs example at full size: the figures, tables and printed output
# in docs/images/ (about half an hour on 2 cores); commit them afterwards
docs-figures: $(VENV)/.docs-installed
	for f in docs/examples/*.py; do \
		echo "$$f"; \
		$(BIN)/python "$$f" > "docs/images/$$(basename "$$f" .py).txt" || exit 1; \
	done
	find docs/images -name "*.txt" -empty -delete

clean:
	rm -rf $(VENV) $(PEERS_VENV) build *.egg-info .pytest_cache .ruff_cache site
