# Two commands do all the set-up (see README): `make demo` and `make test`.
# Both create or reuse the virtual environment in .venv.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.jenkins-kernel-installed
EG_STAMP := .venv-eg/.installed

.PHONY: venv test lint pytest java-test demo kernels bench clean

venv: $(STAMP) $(EG_STAMP)
	@# Bytecode for the project's own modules: with PYTHONDONTWRITEBYTECODE set (CI images
	@# often set it) every command would compile them again, ~0.2 s of each CLI start.
	@$(PY) -m compileall -q jenkins_kernel

# Jupyter Enterprise Gateway for the gateway tests: it pins jupyter_client 6, so its own venv.
$(EG_STAMP):
	test -x .venv-eg/bin/python || $(PYTHON) -m venv .venv-eg
	.venv-eg/bin/python -m pip install --quiet 'jupyter_enterprise_gateway>=3.2,<4' 'ipykernel>=6.29,<7'
	touch $@

# Re-install when the project's dependencies change.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) -m bash_kernel.install --sys-prefix >/dev/null
	touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Two workers, one test file each: the suite mostly waits on kernels, so it takes half the time.
PYTEST_WORKERS ?= 2
pytest: venv
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

# The Jenkins plugin: every class compiled against its API stubs, then its JUnit 4 tests
# against the real service (javac + Debian's junit4; no Maven, no Jenkins jars).
java-test: venv
	plugin_stub/run-tests.sh

test: lint pytest java-test

demo: venv
	$(BIN)/jenkins-kernel run examples/train.ipynb -p learning_rate 0.1 -p epochs 300 -p run_name demo --output-dir reports/demo
	@echo "make demo: the reports are in reports/demo/ (executed.ipynb, junit.xml, report.html, summary.json, images/)"

# R, JavaScript and bash kernels (apt-get and npm -g need root).
kernels: venv
	.ci/install-kernels $(PY)

bench: venv
	$(PY) benchmarks/bench_notebook.py

clean:
	rm -rf reports .pytest_cache .ruff_cache
