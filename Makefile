# mmvlsm developer entry points.
#   make quickstart   set up .venv if missing, build the toy data, train and
#                     evaluate the quickstart config through mim and tools/
#   make demo         serve the quickstart model in a web page (after
#                     make quickstart), the toy test images as examples
#   make test         set up .venv if missing, run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
MIM := $(VENV)/bin/mim

QS_CONFIG := configs/quickstart/clipseg-tiny_1xb16-650it_toy-shapes-128x128.py
QS_WORK_DIR := work_dirs/quickstart
QS_CKPT := $(QS_WORK_DIR)/iter_650.pth
TOY_DATA := data/toy_shapes/anns/train.json

# mmvlsm is installed as a normal (non-editable) package so that `mim train
# mmvlsm` finds its tools; it is reinstalled whenever a source file changes.
SOURCES := setup.py MANIFEST.in model-index.yml \
	$(shell find mmvlsm tools configs -type f \( -name '*.py' -o -name '*.sh' -o -name '*.yml' -o -name '*.yaml' -o -name '*.md' \) -not -path '*/.mim/*' 2>/dev/null)

.PHONY: quickstart demo test env clean-quickstart

env: $(VENV)/.mmvlsm-installed

$(VENV)/.deps-installed: requirements/runtime.txt requirements/tests.txt requirements/mim.txt requirements/demo.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "mmvlsm needs Python >= 3.10"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -U pip 'setuptools<82' wheel
	$(PIP) install -q -r requirements/runtime.txt -r requirements/tests.txt -r requirements/mim.txt -r requirements/demo.txt
	# openmim's own dependency tree downgrades setuptools (see requirements/mim.txt).
	$(PIP) install -q --no-deps openmim==0.3.9
	touch $@

$(VENV)/.mmvlsm-installed: $(VENV)/.deps-installed $(SOURCES)
	# A stale build/ would leak deleted files into the wheel.
	rm -rf build
	$(PIP) install -q --no-deps --no-build-isolation .
	touch $@

$(TOY_DATA): tools/misc/generate_toy_dataset.py | env
	$(PY) tools/misc/generate_toy_dataset.py --out-dir data/toy_shapes

quickstart: env $(TOY_DATA)
	HF_HUB_OFFLINE=1 $(MIM) train mmvlsm $(QS_CONFIG) --work-dir $(QS_WORK_DIR)
	HF_HUB_OFFLINE=1 $(PY) tools/test.py $(QS_CONFIG) $(QS_CKPT) \
		--work-dir $(QS_WORK_DIR)/test_right_prompt \
		--out $(QS_WORK_DIR)/masks --show-dir $(QS_WORK_DIR)/overlays
	HF_HUB_OFFLINE=1 $(PY) tools/test.py $(QS_CONFIG) $(QS_CKPT) \
		--work-dir $(QS_WORK_DIR)/test_wrong_prompt \
		--cfg-options test_dataloader.dataset.ann_file=anns/test_wrong_prompt.json
	$(PY) tools/misc/quickstart_summary.py $(QS_WORK_DIR)

# DEMO_ARGS: more options of tools/demo.py, e.g. DEMO_ARGS='--port 8000'.
demo: env
	@test -f $(QS_CKPT) || { echo 'make demo: $(QS_CKPT) is missing: train the quickstart model first with make quickstart' >&2; exit 1; }
	HF_HUB_OFFLINE=1 $(PY) tools/demo.py $(QS_CONFIG) $(QS_CKPT) $(DEMO_ARGS)

# Test files run in parallel, one per core (a module's fixtures stay in one
# worker), each worker on one thread so that they do not contend.
TEST_WORKERS ?= auto
test: env
	# UTF-8 files and pipes whatever the locale (the tools print ±).
	HF_HUB_OFFLINE=1 PYTHONUTF8=1 OMP_NUM_THREADS=1 $(PY) -m pytest tests -q \
		-p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --durations=15

clean-quickstart:
	rm -rf $(QS_WORK_DIR)
