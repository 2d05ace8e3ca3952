"""``i2dl-grader release``: regenerate ``exercises/`` from ``solutions/`` with nbgrader.

nbgrader writes the student version into a scratch folder first; only when no solution code and
no hidden-test text survived there is it copied over ``exercises/<ex>/``. Released notebooks are
normalised (no outputs, a fixed metadata whitelist, stable JSON) so that regenerating gives no diff.
"""

from __future__ import annotations

import filecmp
import json
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbgrader.converters import GenerateAssignment

from grader.course import GraderError, Repository, make_coursedir, nbgrader_config, quiet_nbgrader
from grader.grading_skips import lint_skips
from grader.hidden import HIDDEN_BEGIN, HIDDEN_END, lint_notebook

SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_MARKERS = (HIDDEN_BEGIN, HIDDEN_END)
NOTEBOOK_METADATA_KEYS = ("kernelspec", "language_info")
CELL_METADATA_KEYS = ("nbgrader", "deletable", "editable", "tags")


def _split_regions(source: str) -> tuple[set[str], set[str]]:
    """Split a cell's stripped lines into those inside solution/hidden regions and the rest."""
    inside, outside = set(), set()
    depth = 0
    for raw in source.splitlines():
        line = raw.strip()
        if any(begin in line for begin in (SOLUTION_MARKERS[0], HIDDEN_MARKERS[0])):
            depth += 1
        elif any(end in line for end in (SOLUTION_MARKERS[1], HIDDEN_MARKERS[1])):
            depth = max(0, depth - 1)
        else:
            (inside if depth else outside).add(line)
    return inside, outside


def find_leaks(source_nb: Path, released_nb: Path) -> list[str]:
    """Lines of solution or hidden-test regions that appear in the released notebook.

    A line counts as leaked when it occurs in the release but nowhere in the source outside the
    removed regions (starter code may legitimately repeat a line such as ``return out, cache``).
    """
    source = nbformat.read(source_nb, as_version=4)
    released = nbformat.read(released_nb, as_version=4)
    removed: set[str] = set()
    kept: set[str] = set()
    for cell in source.cells:
        inside, outside = _split_regions(cell.source)
        removed |= inside
        kept |= outside
    removed = {line for line in removed - kept if line and not line.startswith("#")}
    problems = []
    for index, cell in enumerate(released.cells):
        for line in cell.source.splitlines():
            stripped = line.strip()
            if any(m in stripped for m in SOLUTION_MARKERS + HIDDEN_MARKERS):
                problems.append(f"{released_nb.name} cell {index}: marker left in: {stripped!r}")
            elif stripped in removed:
                problems.append(f"{released_nb.name} cell {index}: leaked line: {stripped!r}")
    return problems


def normalise_notebook(path: Path) -> None:
    """Strip outputs and volatile metadata; write stable JSON."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata = {k: nb.metadata[k] for k in NOTEBOOK_METADATA_KEYS if k in nb.metadata}
    for cell in nb.cells:
        cell.metadata = {k: cell.metadata[k] for k in CELL_METADATA_KEYS if k in cell.metadata}
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


def generate_release(
    repo: Repository, exercise: str, course_root: Path, release_root: Path
) -> Path:
    """Run nbgrader's GenerateAssignment for one exercise into ``release_root/<exercise>``.

    The gradebook under ``course_root`` receives the assignment (nbgrader records every graded
    cell's source there; autograding restores test cells from it).
    """
    config = nbgrader_config(course_root, repo.solutions, release_root)
    config.GenerateAssignment.force = True
    config.GenerateAssignment.create_assignment = True
    coursedir = make_coursedir(config)
    coursedir.assignment_id = exercise
    converter = GenerateAssignment(
        coursedir=coursedir,
        config=config,
        log=quiet_nbgrader(course_root / "logs" / "nbgrader.log"),
    )
    try:
        converter.start()
    except Exception as exc:  # nbgrader reports problems by raising; keep its message
        raise GraderError(
            f"nbgrader could not release {exercise}: {exc} (details in {course_root / 'logs'})"
        ) from exc
    out = release_root / exercise
    for nb_path in sorted(out.glob("*.ipynb")):
        normalise_notebook(nb_path)
    return out


def release(
    repo: Repository, exercises: list[str], course_root: Path, check: bool = False
) -> list[str]:
    """Regenerate ``exercises/<ex>`` for each exercise.

    With ``check=True`` nothing is written; the return value lists exercises whose committed
    release differs from what would be generated. Raises ``GraderError`` on any leak.
    """
    stale = []
    course_root.mkdir(parents=True, exist_ok=True)
    for exercise in exercises:
        with tempfile.TemporaryDirectory(prefix="i2dl-release-") as tmp:
            built = generate_release(repo, exercise, course_root, Path(tmp))
            problems = []
            for source_nb in repo.source_notebooks(exercise):
                released_nb = built / source_nb.name
                if not released_nb.exists():
                    problems.append(f"{source_nb.name} was not released")
                    continue
                problems += find_leaks(source_nb, released_nb)
                source = nbformat.read(source_nb, as_version=4)
                problems += lint_notebook(source, source_nb.name)
                problems += lint_skips(source, source_nb.name)
            if problems:
                raise GraderError(
                    f"refusing to release {exercise}: solution or hidden-test text would reach "
                    "students, hidden tests would take names from the student's kernel, or a "
                    "cell marked skip_when_grading cannot be skipped:\n  "
                    + "\n  ".join(problems)
                )
            target = repo.exercises / exercise
            if not _same_tree(built, target):
                stale.append(exercise)
                if not check:
                    if target.exists():
                        shutil.rmtree(target)
                    shutil.copytree(built, target)
    return stale


def _same_tree(a: Path, b: Path) -> bool:
    if not b.is_dir():
        return False
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(_same_tree(a / d, b / d) for d in cmp.common_dirs)
