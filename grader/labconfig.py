"""nbgrader's own web UI (Formgrader, Assignment List) on this course: ``i2dl-grader lab``.

nbgrader's JupyterLab extensions read their settings from a file named ``nbgrader_config.py``;
the grader builds its settings in code (:func:`grader.course.nbgrader_config`). The file written
here holds no settings of its own: it imports this module, which starts from that same function,
so the command line and the web UI cannot drift apart. ``i2dl-grader lab`` writes it into the
course folder, puts that folder on Jupyter's config path and starts JupyterLab.

Two kinds of course folder are served:

* the course working directory (``.course/`` or ``--course-dir``): every exercise of
  ``solutions/`` is first recorded in its gradebook (nbgrader's "generate" step into a scratch
  folder, never into ``exercises/``), so Formgrader lists each one with its points;
* the output folder of ``i2dl-grader autograde ... --out OUT`` (the class gradebook): it is served
  as it is, so Formgrader's Manual Grading opens the graded hand-ins and the scores set there
  land in ``OUT/gradebook.db``, where ``i2dl-grader export OUT`` reads them.

Jupyter's root folder must contain the course folder (Formgrader refuses to work otherwise): it
is the repository when the course folder lies inside it, and the course folder itself when not.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config

from grader.course import COURSE_ID, GraderError, Repository, nbgrader_config

CONFIG_FILE = "nbgrader_config.py"
EXCHANGE = "exchange"  # nbgrader's exchange (release, fetch, submit, collect), in the course folder
FETCHED = "fetched"  # where the Assignment List puts the assignments a student fetches
SYNC_STAMP = ".lab-gradebook-synced"

CONFIG_TEMPLATE = """\
# Written by `i2dl-grader lab` and rewritten on each start; edits here are lost.
# nbgrader's web UI reads this file. It holds no settings of its own: they come from
# grader.labconfig.lab_config, which builds on the configuration the `i2dl-grader` command
# line uses (grader.course.nbgrader_config), so the two always agree.
from grader.labconfig import lab_config

c.merge(lab_config({repo!r}, {course!r}))
"""


def lab_config(repo_root: str | Path, course_dir: str | Path) -> Config:
    """nbgrader's configuration for the web UI on ``course_dir`` of the course at ``repo_root``.

    The grading settings are those of :func:`grader.course.nbgrader_config` (source
    ``solutions/``, release ``exercises/``, the gradebook in the course folder, the sandboxed
    autograding steps); added are the exchange and the folder fetched assignments go to, both in
    the course folder.
    """
    repo = Repository(Path(repo_root).resolve())
    course = Path(course_dir).resolve()
    c = nbgrader_config(course, repo.solutions, repo.exercises)
    c.Exchange.root = str(course / EXCHANGE)
    c.Exchange.assignment_dir = str(course / FETCHED)
    # Formgrader would print this whole configuration above its assignment table.
    c.FormgradeExtension.debug = False
    # Formgrader's pages show math as MathML written when a page is rendered, and load no
    # MathJax from a CDN (grader.formgrade_math). This file is read after nbgrader's own
    # settings for the exporter, so its template folder must be named again, after ours.
    from nbgrader.server_extensions.formgrader import handlers

    from grader.formgrade_math import TEMPLATES

    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), handlers.template_path]
    c.HTMLExporter.preprocessors = ["grader.formgrade_math.MathMLPreprocessor"]
    return c


def lab_root(repo: Repository, course_dir: Path) -> Path:
    """The folder JupyterLab serves: it must contain the course folder."""
    course = course_dir.resolve()
    root = repo.root.resolve()
    return root if root == course or root in course.parents else course


def _sources_newer_than(stamp: Path, repo: Repository, exercises: list[str]) -> bool:
    if not stamp.is_file():
        return True
    since = stamp.stat().st_mtime
    return any(nb.stat().st_mtime > since for ex in exercises for nb in repo.source_notebooks(ex))


def sync_gradebook(
    repo: Repository, course_dir: Path, say: Callable[[str], None] = print
) -> tuple[list[str], list[str]]:
    """Record every exercise (notebooks, graded cells, points) in the course gradebook.

    Runs nbgrader's generate step into a scratch folder, as ``autograde`` does for its output
    folder; ``exercises/`` is not touched. Skipped when no source notebook changed since the
    last complete sync. Returns the exercises recorded now and, for those nbgrader refused
    (e.g. an exercise whose graded cells changed after hand-ins were collected into this
    gradebook), why; the others are recorded all the same.
    """
    from grader.release import generate_release

    exercises = repo.exercise_names()
    stamp = course_dir / SYNC_STAMP
    if not _sources_newer_than(stamp, repo, exercises):
        return [], []
    course_dir.mkdir(parents=True, exist_ok=True)
    say(f"recording the {len(exercises)} exercises of solutions/ in {course_dir / 'gradebook.db'}")
    recorded, problems = [], []
    with tempfile.TemporaryDirectory(prefix="i2dl-lab-") as scratch:
        for exercise in exercises:
            try:
                generate_release(repo, exercise, course_dir, Path(scratch))
            except GraderError as exc:
                problems.append(str(exc).splitlines()[0])
            else:
                recorded.append(exercise)
    if not problems:  # otherwise the next start tries again
        stamp.write_text("gradebook synced with solutions/ by i2dl-grader lab\n", encoding="utf-8")
    return recorded, problems


def write_lab_config(repo: Repository, course_dir: Path) -> Path:
    """Write ``course_dir/nbgrader_config.py`` and create the exchange; return the file."""
    course = course_dir.resolve()
    course.mkdir(parents=True, exist_ok=True)
    exchange = course / EXCHANGE
    exchange.mkdir(exist_ok=True)
    # nbgrader's exchange is shared by the instructor and the students' accounts: it insists on
    # a world-writable root and would change it (with a warning) on the first release.
    exchange.chmod(0o777)
    (course / FETCHED).mkdir(exist_ok=True)
    target = course / CONFIG_FILE
    text = CONFIG_TEMPLATE.format(repo=str(repo.root.resolve()), course=str(course))
    target.write_text(text, encoding="utf-8")
    return target


@dataclass
class LabPlan:
    """What ``i2dl-grader lab`` serves and how it starts JupyterLab."""

    course_dir: Path
    root: Path
    config_file: Path
    class_gradebook: bool
    synced: list[str]
    problems: list[str]
    command: list[str]
    env: dict[str, str]


def prepare_lab(
    repo: Repository,
    course_dir: Path,
    class_gradebook: bool,
    port: int | None = None,
    open_browser: bool = True,
    say: Callable[[str], None] = print,
) -> LabPlan:
    """Write the configuration (and sync the gradebook of a course folder); plan the start.

    ``class_gradebook``: ``course_dir`` is an autograde output folder, served as it is; it must
    hold a gradebook.
    """
    course = course_dir.resolve()
    if class_gradebook:
        if not course.is_dir():
            raise GraderError(
                f"{course} does not exist: run `i2dl-grader autograde SUBMISSIONS "
                f"--out {course_dir}` first, then `i2dl-grader lab {course_dir}`"
            )
        if not (course / "gradebook.db").is_file():
            raise GraderError(
                f"{course} holds no gradebook.db, so it is not an output folder of "
                "`i2dl-grader autograde ... --out OUT`; pass such a folder, or no folder for the "
                "course working directory"
            )
        synced, problems = [], []
    else:
        synced, problems = sync_gradebook(repo, course, say)
    config_file = write_lab_config(repo, course)
    root = lab_root(repo, course)
    jupyter = shutil.which("jupyter-lab", path=str(Path(sys.executable).parent))
    command = [jupyter] if jupyter else [sys.executable, "-m", "jupyterlab"]
    command.append(f"--ServerApp.root_dir={root}")
    if port is not None:
        command.append(f"--ServerApp.port={port}")
    if not open_browser:
        command.append("--no-browser")
    if os.geteuid() == 0:  # JupyterLab refuses to run as root unless told (containers, CI)
        command.append("--allow-root")
    env = dict(os.environ)
    # The course folder goes first on Jupyter's config path: every nbgrader extension (and an
    # `nbgrader` command run in a terminal of this JupyterLab) finds nbgrader_config.py there.
    paths = [str(course), *filter(None, env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep))]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)
    return LabPlan(course, root, config_file, class_gradebook, synced, problems, command, env)


def describe(plan: LabPlan) -> str:
    what = "class gradebook" if plan.class_gradebook else "course folder"
    lines = [
        f"{what}: {plan.course_dir}",
        f"nbgrader configuration: {plan.config_file}",
        f"JupyterLab root: {plan.root}",
        f"course id: {COURSE_ID}; exchange: {plan.course_dir / EXCHANGE}",
    ]
    if plan.synced:
        lines.append(f"recorded in the gradebook: {len(plan.synced)} exercises")
    lines += [f"WARNING: not recorded in the gradebook: {problem}" for problem in plan.problems]
    return "\n".join(lines)
