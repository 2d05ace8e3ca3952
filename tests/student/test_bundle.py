"""``make bundle``: the student zip holds what students need and nothing of the instructor's.

The bundle is built once (``scripts/build_student_bundle.py``, which ``make bundle`` runs) into a
temporary folder. Its wheel is then installed with ``--no-deps --no-index`` into a fresh venv
that borrows the course venv's site-packages for the dependencies only, with ``grader`` and
``nbgrader`` made unimportable; there ``i2dl check`` runs a released exercise (unsolved: every
test fails) and a solved copy (every test passes), ``i2dl submit`` spots a deleted test cell by
the list of released test cells in the wheel, and a lecture runs top to bottom.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader.course import find_repository
from grader.sample import student_version, write_notebook
from tests.student.conftest import REPO, searched_secret_lines

pytestmark = pytest.mark.student

VERSION = re.search(r'(?m)^version = "([^"]+)"', (REPO / "pyproject.toml").read_text()).group(1)
TOP = f"i2dl-course-student-{VERSION}"
WHEEL = f"i2dl-{VERSION}-py3-none-any.whl"
EX = NB = "ex01_linear_regression"
LECTURE = "05_backpropagation.ipynb"
BIN = "Scripts" if os.name == "nt" else "bin"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "scripts/build_student_bundle.py", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    path = out / f"{TOP}.zip"
    assert proc.stdout.startswith(f"wrote {path} (")
    return path


@pytest.fixture(scope="module")
def unpacked(bundle, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("student")
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(folder)
    return folder / TOP


def bundle_texts(bundle: Path) -> dict[str, str]:
    """name -> text of every file in the bundle, and of every file inside its wheel."""
    texts = {}
    with zipfile.ZipFile(bundle) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            if name.endswith(".whl"):
                with zipfile.ZipFile(__import__("io").BytesIO(data)) as wheel:
                    for inner in wheel.namelist():
                        texts[f"{name}!{inner}"] = wheel.read(inner).decode("utf-8")
            else:
                texts[name] = data.decode("utf-8")
    return texts


def text_lines(name: str, text: str) -> set[str]:
    """Stripped lines of a file; of a notebook, the lines of its cells and of its text outputs."""
    if not name.endswith(".ipynb"):
        return {line.strip() for line in text.split("\n")}
    nb = json.loads(text)
    lines: set[str] = set()
    for cell in nb["cells"]:
        pieces = [cell.get("source", "")]
        for output in cell.get("outputs", []):
            pieces += [output.get("text", ""), output.get("data", {}).get("text/plain", ""),
                       output.get("evalue", "")]
        for piece in pieces:
            lines.update(s.strip() for s in ("".join(piece) if isinstance(piece, list)
                                             else piece).split("\n"))
    return lines


def test_make_bundle_runs_the_script():
    # run inside `make test` too: no "Entering/Leaving directory" lines from a nested make
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    proc = subprocess.run(["make", "--no-print-directory", "-n", "bundle"], cwd=REPO,
                          capture_output=True, text=True, env=env)

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-2:] == [
        ".venv/bin/i2dl-grader release --check",
        ".venv/bin/python scripts/build_student_bundle.py",
    ]


def test_the_bundle_holds_lectures_exercises_the_wheel_and_a_readme(bundle):
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        contents = {name: zf.read(name) for name in names}
    lectures = sorted((REPO / "lectures").glob("*.ipynb"))
    exercises = sorted(p for p in (REPO / "exercises").rglob("*") if p.is_file()
                       and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts)

    assert sorted(names) == sorted(
        [f"{TOP}/README.md", f"{TOP}/{WHEEL}"]
        + [f"{TOP}/lectures/{p.name}" for p in lectures]
        + [f"{TOP}/exercises/{p.relative_to(REPO / 'exercises').as_posix()}" for p in exercises])
    assert len(lectures) >= 14 and len([p for p in exercises if p.suffix == ".ipynb"]) >= 11
    for path in lectures:  # with their stored outputs
        assert contents[f"{TOP}/lectures/{path.name}"] == path.read_bytes()
    for path in exercises:
        relative = path.relative_to(REPO / "exercises").as_posix()
        assert contents[f"{TOP}/exercises/{relative}"] == path.read_bytes()
    readme = contents[f"{TOP}/README.md"].decode()
    for command in (f"python -m pip install {WHEEL}", "jupyter lab",
                    f"i2dl check exercises/{EX}/{NB}.ipynb", f"i2dl submit {EX} --student YOUR_ID"):
        assert command in readme


def test_no_grader_no_solutions_and_the_wheel_is_i2dl_alone(bundle):
    texts = bundle_texts(bundle)
    parts = {part for name in texts for part in re.split(r"[/!]", name)}

    assert not {"grader", "solutions"} & parts
    inner = sorted(n.split("!", 1)[1] for n in texts if "!" in n)
    assert {n.split("/")[0] for n in inner} == {"i2dl", f"i2dl-{VERSION}.dist-info"}
    metadata = texts[f"{TOP}/{WHEEL}!i2dl-{VERSION}.dist-info/METADATA"]
    requires = [line.split(": ", 1)[1] for line in metadata.splitlines()
                if line.startswith("Requires-Dist: ")]
    assert [re.split(r"[<>=]", r)[0] for r in requires] == [
        "numpy", "torch", "matplotlib", "scikit-learn", "tqdm", "ipywidgets", "ipykernel",
        "nbformat", "nbclient", "jupyterlab"]
    assert "torch==2.13.0" in requires
    assert texts[f"{TOP}/{WHEEL}!i2dl-{VERSION}.dist-info/entry_points.txt"].split() == [
        "[console_scripts]", "i2dl", "=", "i2dl.cli:main"]
    released = json.loads(texts[f"{TOP}/{WHEEL}!i2dl/_released_tests.json"])
    assert released["version"] == VERSION
    assert sorted(released["notebooks"]) == sorted(
        p.stem for p in (REPO / "exercises").glob("*/*.ipynb"))


def test_no_solution_or_hidden_test_line_is_in_the_bundle(bundle):
    secrets = searched_secret_lines()
    found = {name: text_lines(name, text) & secrets for name, text in bundle_texts(bundle).items()}

    assert len(secrets) > 1000
    assert {name: lines for name, lines in found.items() if lines} == {}
    # The search does find them where they are: in the instructor's notebooks.
    source = REPO / "solutions" / EX / f"{NB}.ipynb"
    assert len(text_lines(source.name, source.read_text()) & secrets) > 20


# --- the wheel installed in a fresh venv ---------------------------------------------------------


def run(args: list, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def venv(unpacked, tmp_path_factory) -> Path:
    """A fresh venv holding only the i2dl wheel; the dependencies come from the course venv."""
    root = tmp_path_factory.mktemp("venv") / "student-venv"
    assert run([sys.executable, "-m", "venv", "--without-pip", root], unpacked).returncode == 0
    python = root / BIN / "python"
    proc = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
               unpacked)
    site = Path(proc.stdout.strip())
    # Dependencies only: .pth files there are not processed, so the course's editable i2dl
    # (and grader) stay out; grader and nbgrader are made unimportable on top.
    (site / "_course_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (site / "_no_grader.pth").write_text(
        "import sys; sys.modules.update(dict.fromkeys(('grader', 'nbgrader')))\n")
    proc = run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                "--disable-pip-version-check", unpacked / WHEEL], unpacked)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def test_the_installed_i2dl_is_the_wheels(venv, unpacked):
    proc = run([venv / BIN / "python", "-c",
                "import importlib.util, i2dl, i2dl.cli\n"
                "print(i2dl.__file__)\n"
                "print([importlib.util.find_spec(m) is None for m in ('grader', 'nbgrader')])\n"
                "import grader"], unpacked)

    lines = proc.stdout.splitlines()
    assert Path(lines[0]).is_relative_to(venv)
    assert lines[1] == "[True, True]"
    assert "ModuleNotFoundError: import of grader halted; None in sys.modules" in proc.stderr


def check_table(proc: subprocess.CompletedProcess) -> list[str]:
    lines = proc.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("test "))
    end = next(i for i, line in enumerate(lines) if line.startswith("total: "))
    return lines[start:end + 1]


def expected_table(result: str, message: str) -> list[str]:
    nb = nbformat.read(REPO / "exercises" / EX / f"{NB}.ipynb", as_version=4)
    tests = [(c.metadata.nbgrader["grade_id"], c.metadata.nbgrader["points"]) for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("grade")]
    width = max(len(g) for g, _ in tests)
    rows = [f"{g.ljust(width)}  {result}  {p:>6g}  {message}".rstrip() for g, p in tests]
    total = sum(p for _, p in tests)
    passed = total if result == "passed" else 0
    count = len(tests) if result == "passed" else 0
    return [f"{'test'.ljust(width)}  result  points  message",
            f"{'-' * width}  ------  ------  -------", *rows,
            f"total: {count} of {len(tests)} tests passed their visible checks (worth {passed:g} "
            f"of {total:g} points)"]


def test_check_on_the_released_exercise_fails_every_test(venv, unpacked):
    path = Path("exercises") / EX / f"{NB}.ipynb"
    before = (unpacked / path).read_bytes()

    proc = run([venv / BIN / "i2dl", "check", path], unpacked)

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert check_table(proc) == expected_table("FAILED", "NotImplementedError")
    assert not [line for line in proc.stdout.splitlines() if line.startswith(("warning", "note"))]
    assert (unpacked / path).read_bytes() == before


def test_check_on_a_solved_copy_passes_every_test(venv, unpacked, tmp_path):
    solved = tmp_path / EX / f"{NB}.ipynb"
    write_notebook(student_version(find_repository(REPO), EX, NB), solved)

    proc = run([venv / BIN / "i2dl", "check", solved], unpacked)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert check_table(proc) == expected_table("passed", "")


def test_submit_spots_a_deleted_test_cell_by_the_released_list(venv, unpacked, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(unpacked / "exercises" / EX, work / EX)
    nb = nbformat.read(work / EX / f"{NB}.ipynb", as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade"))
    grade_id = nb.cells.pop(index).metadata.nbgrader["grade_id"]
    nbformat.write(nb, work / EX / f"{NB}.ipynb")

    proc = run([venv / BIN / "i2dl", "submit", EX, "--student", "s123", "--out", tmp_path], work)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (f"warning: {NB}.ipynb: test cell {grade_id} is missing (deleted, or its metadata "
            "removed): grading adds the original back and runs it") in proc.stdout.splitlines()
    with zipfile.ZipFile(tmp_path / "s123.zip") as zf:
        assert zf.namelist() == [f"{EX}/{NB}.ipynb"]


def test_a_lecture_runs_top_to_bottom(venv, unpacked):
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "import nbformat\n"
        "from i2dl.cli import read_notebook, run_notebook\n"
        "path = Path(sys.argv[1])\n"
        "nb = read_notebook(path)\n"
        "nb.cells.append(nbformat.v4.new_code_cell('import i2dl, sys; print(i2dl.__file__); "
        "print(sys.executable)'))\n"
        "run = run_notebook(nb, path.parent)\n"
        "print(json.dumps({'errors': [[r.label, *r.error] for r in run.cells.values() if r.error],"
        " 'stopped': run.stop_reason, 'cells': len(run.cells),"
        " 'last': nb.cells[-1].outputs[0]['text']}))\n"
    )
    lecture = unpacked / "lectures" / LECTURE

    proc = run([venv / BIN / "python", "-c", script, lecture], unpacked)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    code_cells = sum(c.cell_type == "code" for c in nbformat.read(lecture, as_version=4).cells)
    assert (result["errors"], result["stopped"], result["cells"]) == ([], "", code_cells + 1)
    kernel_i2dl, kernel_python = result["last"].split()
    assert Path(kernel_i2dl).is_relative_to(venv)
    assert Path(kernel_python) == venv / BIN / "python"
