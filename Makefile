# Every target that needs Python bootstraps .venv first; a second run with nothing
# changed skips the install (the stamp is newer than pyproject.toml and constraints.txt).
#
# The install: pip puts torch (with --no-deps, so that pip's own configuration decides where the
# wheel comes from: here a local CPU-only wheel) and uv into the venv; uv installs the rest from
# the pins, writing their bytecode on every core, and compileall writes torch's. Installing into
# a fresh venv here took 47 s with pip alone (29 s of it compiling bytecode one file at a time)
# and 27 s this way (pip 7 s, uv 15 s, compileall 4.5 s). Like pip, the install does not stop
# at a file that does not compile (torch ships one written for Python 3.12). uv is pinned in
# constraints.txt like everything else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lab lint release validate lectures bundle clean constraints

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "i2dl-course needs Python 3.10 or newer, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile --no-deps -c constraints.txt uv torch
	$(BIN)/python -m uv pip install --python $(BIN)/python --quiet --compile-bytecode -c constraints.txt -e '.[dev]'
	$(BIN)/python -m compileall -q -j 0 "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/torch" > /dev/null || true
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/i2dl-grader demo

# Test files are spread over the cores; each file stays on one worker (loadfile), so the
# expensive session fixtures that grade a whole class run once. PYTHONDONTWRITEBYTECODE is
# cleared for the run: pytest keeps the test modules it rewrites (for its assertion messages)
# as bytecode, which a shell that sets the variable forbids, and then every pytest process
# rewrites all of them again (3 of its 9 s of collection here). The bytecode goes to
# __pycache__ folders, which git ignores.
test: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n auto --dist loadfile

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# JupyterLab on this repository with nbgrader's Formgrader on the course folder (.course/);
# `make lab COURSE=OUT` opens the output folder of `i2dl-grader autograde ... --out OUT` instead,
# to grade written answers and adjust scores in Formgrader's Manual Grading.
lab: $(STAMP)
	$(BIN)/i2dl-grader lab $(COURSE)

lint: $(STAMP)
	$(BIN)/ruff check i2dl grader tests benchmarks

# Re-execute the lecture notebooks and store their outputs (`make test` compares a JupyterLab run
# of each lecture against them, as nbval would: tests/browser/_stored_outputs.py).
lectures: $(STAMP)
	$(BIN)/python scripts/execute_lectures.py

release: $(STAMP)
	$(BIN)/i2dl-grader release

validate: $(STAMP)
	$(BIN)/i2dl-grader validate

# The student bundle: dist/i2dl-course-student-<version>.zip with the lectures, the released
# exercises (checked to be up to date first), the i2dl wheel alone and a student README.
bundle: $(STAMP)
	$(BIN)/i2dl-grader release --check
	$(BIN)/python scripts/build_student_bundle.py

# Refresh the pins from the current environment (torch keeps its public version).
constraints: $(STAMP)
	{ echo "# Exact pins for a reproducible semester. Regenerate with: make constraints"; \
	  echo "torch==2.13.0"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v -e '^torch==' -e '^i2dl-course'; } > constraints.txt

clean:
	rm -rf $(VENV) .course .pytest_cache .hypothesis
