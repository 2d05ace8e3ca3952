"""``i2dl-grader lab``: nbgrader's web UI reads the same configuration as the command line.

The configuration is loaded the way nbgrader's Jupyter extensions load it (an ``NbGrader`` app
searching Jupyter's config path) and handed to ``NbGraderAPI``, the object behind Formgrader's
pages; the browser test (tests/browser/test_instructor.py) drives the pages themselves.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.apps import NbGrader, NbGraderAPI
from traitlets.config.loader import PyFileConfigLoader

from grader.autograde import ClassGrader, GradingOptions
from grader.course import COURSE_ID, Repository, nbgrader_config
from grader.labconfig import (
    CONFIG_FILE,
    EXCHANGE,
    FETCHED,
    lab_config,
    lab_root,
    prepare_lab,
    sync_gradebook,
)
from tests.grader.conftest import REPO, run_cli

pytestmark = pytest.mark.grader


def _config_as_nbgrader_finds_it(course: Path, monkeypatch, tmp_path: Path):
    """The configuration an nbgrader extension of a server started by ``lab`` would load."""
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(course))
    empty = tmp_path / "empty-user-config"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(empty))
    monkeypatch.delenv("JUPYTER_NO_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    app = NbGrader()
    app.load_config_file()
    return app.config


def _assignments(config) -> list[tuple[str, float, bool]]:
    """What Formgrader's Manage Assignments and Manual Grading pages list."""
    api = NbGraderAPI(config=config)
    return [(a["name"], a["max_score"], a["releaseable"]) for a in api.get_assignments()]


def test_lab_config_is_the_command_line_config_plus_an_exchange(tmp_path):
    course = tmp_path / "course"
    config = lab_config(REPO.root, course)
    cli = nbgrader_config(course, REPO.solutions, REPO.exercises)
    for section in ("CourseDirectory", "Execute", "SandboxedExecute", "Autograde",
                    "ClearSolutions", "OverwriteCells", "Exporter"):
        assert config[section] == cli[section], section
    assert config.CourseDirectory.course_id == COURSE_ID == "i2dl"
    assert config.CourseDirectory.source_directory == str(REPO.root / "solutions")
    assert config.CourseDirectory.release_directory == str(REPO.root / "exercises")
    assert config.CourseDirectory.db_url == f"sqlite:///{course / 'gradebook.db'}"
    assert config.Exchange.root == str(course / EXCHANGE)
    assert config.Exchange.assignment_dir == str(course / FETCHED)
    assert config.FormgradeExtension.debug is False


def test_the_course_folder_lists_every_exercise_with_its_points(tmp_path, monkeypatch):
    course = tmp_path / "course"
    proc = run_cli("--course-dir", str(course), "lab", "--config-only")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    exercises = REPO.exercise_names()
    assert f"recorded in the gradebook: {len(exercises)} exercises" in proc.stdout
    # the file holds no settings: it loads lab_config, so the web UI cannot drift from the CLI
    written = PyFileConfigLoader(CONFIG_FILE, path=str(course)).load_config()
    assert written == lab_config(REPO.root, course)
    assert (course / EXCHANGE).stat().st_mode & 0o777 == 0o777
    config = _config_as_nbgrader_finds_it(course, monkeypatch, tmp_path)
    assert config.CourseDirectory.root == str(course)
    assert _assignments(config) == [(ex, 100.0, True) for ex in exercises]
    # a second start with unchanged sources leaves the gradebook alone
    before = (course / "gradebook.db").stat().st_mtime_ns
    again = run_cli("--course-dir", str(course), "lab", "--config-only")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "recorded in the gradebook" not in again.stdout
    assert (course / "gradebook.db").stat().st_mtime_ns == before


def test_a_class_gradebook_is_served_as_it_is(tmp_path, monkeypatch):
    out = tmp_path / "graded"
    ClassGrader(REPO, out, ["ex01_linear_regression"], GradingOptions()).prepare()
    proc = run_cli("lab", str(out), "--config-only")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[:3] == [
        f"class gradebook: {out}",
        f"nbgrader configuration: {out / CONFIG_FILE}",
        f"JupyterLab root: {out}",
    ]
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", COURSE_ID) as gb:
        assert [a.name for a in gb.assignments] == ["ex01_linear_regression"]
    config = _config_as_nbgrader_finds_it(out, monkeypatch, tmp_path)
    assert _assignments(config) == [
        (ex, 100.0 if ex == "ex01_linear_regression" else 0, True)
        for ex in REPO.exercise_names()
    ]


def test_jupyter_serves_a_folder_that_holds_the_course_folder(tmp_path):
    assert lab_root(REPO, REPO.root / ".course") == REPO.root
    assert lab_root(REPO, REPO.root / "grading" / "week3") == REPO.root
    assert lab_root(REPO, tmp_path / "out") == tmp_path / "out"
    out = tmp_path / "out"
    out.mkdir()
    (out / "gradebook.db").touch()  # only its presence is checked before the start
    plan = prepare_lab(REPO, out, class_gradebook=True, port=8123, open_browser=False)
    start = plan.command.index(f"--ServerApp.root_dir={out}")
    assert plan.command[start:] == [
        f"--ServerApp.root_dir={out}", "--ServerApp.port=8123", "--no-browser",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]
    assert plan.env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(out)


def test_lab_refuses_a_folder_that_autograde_did_not_write(tmp_path):
    proc = run_cli("lab", str(tmp_path), "--config-only")
    assert proc.returncode == 2
    assert proc.stderr == (
        f"i2dl-grader: error: {tmp_path} holds no gradebook.db, so it is not an output folder of "
        "`i2dl-grader autograde ... --out OUT`; pass such a folder, or no folder for the course "
        "working directory\n"
    )
    missing = run_cli("lab", str(tmp_path / "nowhere"), "--config-only")
    assert missing.returncode == 2
    assert "run `i2dl-grader autograde SUBMISSIONS --out" in missing.stderr
    assert not (tmp_path / CONFIG_FILE).exists()


# nbgrader's add_submission trips SQLAlchemy's autoflush warnings (as in grader.course)
@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
def test_an_exercise_nbgrader_refuses_to_update_is_reported_and_the_rest_recorded(tmp_path):
    root = tmp_path / "repo"
    for exercise in ("ex01_linear_regression", "ex03_layers"):
        shutil.copytree(REPO.solutions / exercise, root / "solutions" / exercise)
    repo = Repository(root)
    course = tmp_path / "course"
    assert sync_gradebook(repo, course, say=lambda _: None) == (
        ["ex01_linear_regression", "ex03_layers"], [])
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        gb.update_or_create_student("ann")
        gb.add_submission("ex01_linear_regression", "ann")
    # a test cell removed after ann's hand-in was recorded: nbgrader keeps the recorded version
    source = root / "solutions" / "ex01_linear_regression" / "ex01_linear_regression.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells = [c for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") != "test_select_degree"]
    nbformat.write(nb, source)
    said: list[str] = []
    recorded, problems = sync_gradebook(repo, course, say=said.append)
    assert said == [f"recording the 2 exercises of solutions/ in {course / 'gradebook.db'}"]
    assert recorded == ["ex03_layers"]
    assert len(problems) == 1
    assert problems[0].startswith("nbgrader could not release ex01_linear_regression: ")
    assert problems[0].endswith(f"(details in {course / 'logs'})")
    assert ("Cannot add or remove cells for notebook 'ex01_linear_regression' because there are "
            "submissions associated with it") in (course / "logs" / "nbgrader.log").read_text()
    # not marked as synced: the next start tries again
    assert sync_gradebook(repo, course, say=lambda _: None)[1] == problems
