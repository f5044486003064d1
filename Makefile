# The two commands: `make reports` (set up, run the experiment batch, open reports/index.html)
# and `make test` (set up, check notebooks and package agree, run every notebook's tests).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Installed first when no torch is importable, so a CPU machine never downloads a CUDA build.
# A user with a GPU installs their own torch into .venv first (or sets TORCH_SPEC).
TORCH_SPEC ?= torch==2.13.0
# Experiment batch run by `make reports` (see nbs/experiments/); DATA=<folder or file> points its real-data runs elsewhere.
BATCH ?= nbs/experiments/default.batch.json

.PHONY: setup test reports lab export clean-nbs gpu-check
setup: $(VENV)/.installed

$(VENV)/.installed: setup.py settings.ini pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

# The sync check runs nbdev-clean and nbdev-export on a copy and names the files that differ; the tree is never written.
test: setup
	$(PY) .ci/test_check_sync.py
	$(PY) .ci/check_sync.py
	$(PY) .ci/test_notebooks.py

reports: setup
	$(PY) -m poselift.batch $(BATCH) --out reports $(if $(DATA),--data $(DATA))

# On a machine with CUDA: the gpu-flagged cells, then bf16/fp16 speed against the CPU, a real OOM and its fallback, peak memory
# and a short pretraining, as one table (.ci/gpu_check.py; under 8 minutes).
gpu-check: setup
	$(PY) .ci/gpu_check.py

lab: setup
	$(VENV)/bin/jupyter lab --no-browser --ip 127.0.0.1 --port 8888 $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

export: setup
	$(VENV)/bin/nbdev-export

clean-nbs: setup
	$(VENV)/bin/nbdev-clean
