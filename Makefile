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

.PHONY: setup test reports lab export clean-nbs
setup: $(VENV)/.installed

$(VENV)/.installed: setup.py settings.ini pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

# nbdev-clean and nbdev-export must leave nbs/ and poselift/ exactly as they were.
test: setup
	@before=$$(find nbs poselift -type f -not -path '*/__pycache__/*' -not -path '*/.ipynb_checkpoints/*' | sort | xargs sha1sum); \
	$(VENV)/bin/nbdev-clean && $(VENV)/bin/nbdev-export || exit 1; \
	after=$$(find nbs poselift -type f -not -path '*/__pycache__/*' -not -path '*/.ipynb_checkpoints/*' | sort | xargs sha1sum); \
	if [ "$$before" != "$$after" ]; then \
	  echo "FAIL: nbdev-clean/nbdev-export changed these files (notebooks and package were not in sync, or a notebook carried outputs):"; \
	  diff <(echo "$$before") <(echo "$$after") | grep '^[<>]' | awk '{print "  " $$3}' | sort -u; \
	  echo "0 passed, 1 failed"; exit 1; fi; \
	echo "nbdev-clean and nbdev-export left nbs/ and poselift/ unchanged"
	$(PY) .ci/test_notebooks.py

reports: setup
	$(PY) -m poselift.batch $(BATCH) --out reports $(if $(DATA),--data $(DATA))
	@echo "open reports/index.html"

lab: setup
	$(VENV)/bin/jupyter lab --no-browser --ip 127.0.0.1 --port 8888 $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

export: setup
	$(VENV)/bin/nbdev-export

clean-nbs: setup
	$(VENV)/bin/nbdev-clean
